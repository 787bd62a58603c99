"""The reject class: examples of questions the knowledge base does not answer."""

from __future__ import annotations

from pathlib import Path

import yaml

from knowledge_base.entries import LANGS, PACKAGE_DIR, Lang

DEFAULT_REJECT_PATH = PACKAGE_DIR / "calibration" / "not_in_scope.yaml"


def load_reject_examples(path: Path = DEFAULT_REJECT_PATH) -> dict[Lang, list[str]]:
    """Read the reject examples (YAML: ``en`` and ``zh`` lists of questions)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of en/zh lists")
    return {lang: [str(text) for text in data.get(lang) or []] for lang in LANGS}
