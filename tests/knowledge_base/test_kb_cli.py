"""The ``kb`` command group: validate, ask (single and --batch), eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from knowledge_base import cli
from knowledge_base.engine import FaqEngine


@pytest.fixture
def use_engine(monkeypatch: pytest.MonkeyPatch, engine: FaqEngine) -> FaqEngine:
    """Make the commands use the session's engine instead of loading the models again."""
    monkeypatch.setattr(cli, "_build_engine", lambda *args: engine)
    return engine


def test_validate_passes_on_good_content(fixture_content: Path, fixture_topics: Path) -> None:
    result = CliRunner().invoke(
        cli.kb_group,
        [
            "validate",
            str(fixture_content),
            "--topics",
            str(fixture_topics),
            "--today",
            "2027-01-01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 entries, 0 errors, 0 warnings" in result.stdout


def test_validate_exits_1_on_errors_and_prints_warnings(
    content_copy: Path, fixture_topics: Path
) -> None:
    path = content_copy / "law.bullying.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["urgent"] = True
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = CliRunner().invoke(
        cli.kb_group,
        ["validate", str(content_copy), "--topics", str(fixture_topics), "--today", "2100-01-01"],
    )
    assert result.exit_code == 1
    assert "[urgent_flag]" in result.stderr
    assert "[review_overdue]" in result.stdout


def test_batch_writes_one_line_per_question_in_order(use_engine: FaqEngine) -> None:
    lines = [
        {"q": "can my kids swim in the reservoir without an adult", "lang": "en"},
        {"q": "学校不处理欺凌，家长可以找谁"},
        {"q": "my son says he wants to die"},
        {"q": "how do I bake sourdough bread", "lang": "en"},
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    stdin = stdin.replace("\n", "\n\n", 1) + "\nnot json\n"  # a blank line and a bad line
    result = CliRunner().invoke(cli.kb_group, ["ask", "--json", "--batch"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines) + 1  # blank line skipped; bad line still answered
    for given, got in zip(lines, out, strict=False):
        expected = use_engine.ask(str(given["q"]), given.get("lang"))
        assert got["entry_id"] == expected.entry_id
        assert got["decision"] == expected.decision
        assert set(got) >= {"decision", "entry_id", "confidence", "top3"}
    assert out[2]["decision"] == "crisis"
    assert "error" in out[-1] and out[-1]["top3"] == []


def test_ask_json_single_question(use_engine: FaqEngine) -> None:
    result = CliRunner().invoke(
        cli.kb_group,
        ["ask", "what should my child do if a friend falls in the river", "--lang", "en", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["entry_id"] == "safety.drowning_prevention"
    assert data["language"] == "en"


def test_ask_text_shows_answer_and_source(use_engine: FaqEngine) -> None:
    result = CliRunner().invoke(cli.kb_group, ["ask", "孩子可以自己去河里游泳吗"])
    assert result.exit_code == 0, result.output
    assert "decision:" in result.stdout
    if "decision: answer" in result.stdout:
        assert "Source:" in result.stdout and "预防溺水" in result.stdout


def test_ask_needs_a_question_or_batch(use_engine: FaqEngine) -> None:
    result = CliRunner().invoke(cli.kb_group, ["ask"])
    assert result.exit_code == 2


def test_eval_prints_table_and_json(use_engine: FaqEngine, tmp_path: Path) -> None:
    rows = [
        {
            "q": "is the river safe for swimming",
            "lang": "en",
            "expect": "safety.drowning_prevention",
            "kind": "in_scope",
        },
        {"q": "学校不管欺凌怎么办", "lang": "zh", "expect": "law.bullying", "kind": "in_scope"},
        {"q": "give me a cake recipe", "lang": "en", "expect": None, "kind": "out_of_scope"},
        {"q": "孩子说不想活了", "lang": "zh", "expect": "psych.self_harm_crisis", "kind": "crisis"},
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")

    table = CliRunner().invoke(cli.kb_group, ["eval", str(path)])
    assert table.exit_code == 0, table.output
    assert "top-1" in table.stdout and "p95" in table.stdout

    as_json = CliRunner().invoke(cli.kb_group, ["eval", str(path), "--json"])
    data = json.loads(as_json.stdout)
    assert data["per_language"]["en"]["questions"] == 1
    assert data["crisis"]["recall"] == 1.0
    assert data["out_of_scope"]["answered_confidently"] == 0.0
    assert data["latency_ms"]["p95"] >= data["latency_ms"]["p50"] > 0
