"""Check that no knowledge-base text is a copy or near-paraphrase of an evaluation question.

Example questions (and the calibration questions and reject examples) must be written
fresh, never copied from an evaluation set: otherwise evaluation figures measure recall
of the copy, not how well unseen questions are answered. This compares every such text
with every question of the given evaluation files by ``difflib`` similarity ratio
(lower-cased, spaces collapsed) and lists the pairs at or above ``--max-ratio``.

    .venv/bin/python bench/kb_overlap.py ../shared/eval/dev_questions.jsonl

Exit status 1 when any pair reaches the limit (default 0.6).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from difflib import SequenceMatcher
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "knowledge_base"


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def knowledge_base_texts(package_dir: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every example question, calibration question and reject example."""
    for path in sorted((package_dir / "content").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for lang, questions in (data.get("questions") or {}).items():
            for question in questions:
                yield f"{path.name} [{lang}]", question
    calibration = package_dir / "calibration" / "questions.jsonl"
    if calibration.exists():
        for number, line in enumerate(calibration.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                yield f"calibration/questions.jsonl:{number}", json.loads(line)["q"]
    reject = package_dir / "calibration" / "not_in_scope.yaml"
    if reject.exists():
        data = yaml.safe_load(reject.read_text(encoding="utf-8"))
        for lang, examples in (data.get("examples") or data or {}).items():
            if isinstance(examples, list):
                for example in examples:
                    yield f"calibration/not_in_scope.yaml [{lang}]", str(example)


def evaluation_questions(paths: list[Path]) -> list[str]:
    """The ``q`` of every line of the evaluation files."""
    questions: list[str] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["q"])
    return questions


def overlaps(
    texts: list[tuple[str, str]], questions: list[str], max_ratio: float
) -> list[tuple[float, str, str, str]]:
    """(ratio, where, text, evaluation question) for every pair at or above ``max_ratio``."""
    found: list[tuple[float, str, str, str]] = []
    normalised = [_normalise(question) for question in questions]
    for where, text in texts:
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(_normalise(text))
        for question, norm in zip(questions, normalised, strict=True):
            matcher.set_seq1(norm)
            # the quick upper bounds skip most pairs before the exact ratio
            if matcher.real_quick_ratio() < max_ratio or matcher.quick_ratio() < max_ratio:
                continue
            ratio = matcher.ratio()
            if ratio >= max_ratio:
                found.append((ratio, where, text, question))
    return sorted(found, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_files", nargs="+", type=Path, help="evaluation JSONL files")
    parser.add_argument("--max-ratio", type=float, default=0.6)
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR)
    args = parser.parse_args()

    texts = list(knowledge_base_texts(args.package_dir))
    questions = evaluation_questions(args.eval_files)
    found = overlaps(texts, questions, args.max_ratio)
    for ratio, where, text, question in found:
        print(f"{ratio:.2f}  {where}\n      kb:   {text}\n      eval: {question}")
    print(
        f"{len(texts)} knowledge-base texts vs {len(questions)} evaluation questions: "
        f"{len(found)} pairs with ratio >= {args.max_ratio}"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
