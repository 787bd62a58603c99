"""A sanity check for the Rasa benchmark: a linear classifier on the same training data.

TF-IDF on the features bench/rasa/config.yml gives Rasa (character n-grams 1-4 within
words, and words, both with min_df 2) and a logistic regression, trained on the exported
``data/nlu.yml`` (faq examples only) and scored on the in-scope questions of an
evaluation file (top-1/top-3 per language). It tells whether a weak Rasa result comes
from the data and features or from the model's training. Runs in bench/rasa/.venv (which
has scikit-learn) after run.sh has exported the data:

    bench/rasa/.venv/bin/python bench/rasa/linear_baseline.py bench/rasa/work/export \
        ../shared/eval/dev_questions.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("eval_file", type=Path)
    args = parser.parse_args()
    nlu = yaml.safe_load((args.export_dir / "data" / "nlu.yml").read_text("utf-8"))["nlu"]
    keys = json.loads((args.export_dir / "entry_ids.json").read_text("utf-8"))
    texts, labels = [], []
    for item in nlu:
        if item["intent"].startswith("faq/"):
            for line in item["examples"].splitlines():
                texts.append(line[2:])
                labels.append(keys[item["intent"].removeprefix("faq/")])
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True),
        TfidfVectorizer(min_df=2),
    )
    model = make_pipeline(features, LogisticRegression(C=10, max_iter=2000))
    model.fit(texts, labels)
    rows = [json.loads(line) for line in args.eval_file.read_text("utf-8").splitlines() if line]
    for lang in ("en", "zh"):
        items = [r for r in rows if r.get("kind") == "in_scope" and r.get("lang") == lang]
        probabilities = model.predict_proba([r["q"] for r in items])
        top1 = top3 = 0
        for row, p in zip(items, probabilities, strict=True):
            ranked = [model.classes_[i] for i in p.argsort()[::-1][:3]]
            top1 += ranked[0] == row["expect"]
            top3 += row["expect"] in ranked
        print(
            f"{lang}: {len(items)} questions, top-1 {top1 / len(items):.1%}, "
            f"top-3 {top3 / len(items):.1%}"
        )


if __name__ == "__main__":
    main()
