"""The demo plays its whole scenario and shows both languages."""

from __future__ import annotations

from bot.demo import run_demo
from knowledge_base.engine import FaqEngine


async def test_demo_every_expected_reply_arrives(faq_engine: FaqEngine) -> None:
    transcript: list[str] = []
    failures = await run_demo(echo=transcript.append, faq=faq_engine)
    assert failures == []
    text = "\n".join(transcript)
    assert "You are now the administrator of Sunshine Primary School" in text
    assert "作为家长，您可以" in text
    # The notice part: the alert in each parent's language, a reminder, the status view.
    assert "⚠️ 安全提醒 · 3A · Wang Fang" in text
    assert "⏰ Reminder: we have not yet had your confirmation about Chen Jie." in text
    assert "• Chen Jie (3A): Chen Hong (reachable)" in text
    assert "families who acknowledged (1 of 2)" in text
    # The expert part: a case, the relayed answer, and the answer learned for the next parent.
    assert "An expert in law replies:" in text
    assert "Added as learned.law.1" in text
    assert "demo" not in "".join(failures)
