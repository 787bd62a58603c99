"""SafeCampus knowledge base: bilingual FAQ content, retrieval and the answer policy.

Entry point for the bot: ``knowledge_base.engine.FaqEngine`` (call
``knowledge_base.threads.limit_threads()`` before anything imports numpy). Nothing is
imported here so that ``kb validate`` and the content tools stay light; see
docs/knowledge_base.md.
"""
