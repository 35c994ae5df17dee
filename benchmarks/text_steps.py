"""Title-only recipe steps for the text categorizer: 5-fold CV on the training side, then held out.

Run: ``flock /tmp/modiste-heavy.lock env OMP_NUM_THREADS=1 .venv/bin/python -m
benchmarks.text_steps --json benchmarks/results/text_steps.json`` (about 10 CPU-minutes).

Recipes are chosen on the cross-validation accuracy, computed on the 80 % training side of the
seed-0 split only (folds stratified, seed 0); the held-out column scores the 20 % test rows that
`modiste train text` / `modiste eval text` hold out, fitted once on the whole training side.
Accuracy does not depend on the softmax temperature, so calibration is skipped here.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.cleaning.text_features import FeatureConfig, normalize_text
from modiste.training.text import SplitSpec, read_text_csv, split_indices

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/fashion_products/products.csv"
log = logging.getLogger("text_steps")

PAIRS = FeatureConfig(pair_weight=0.5)
RECIPES: dict[str, CategorizerConfig] = {
    "w1-2 + c2-5, svc C=1 (issue baseline)": CategorizerConfig(c=1.0, calibration_share=0),
    "w1-2 + c2-5, svc C=0.5 (default, shipped)": CategorizerConfig(c=0.5, calibration_share=0),
    "+ brand x noun pairs (--pair-weight 0.5), C=0.5": CategorizerConfig(
        features=PAIRS, c=0.5, calibration_share=0
    ),
    "+ pairs, C=1": CategorizerConfig(features=PAIRS, c=1.0, calibration_share=0),
}
SECONDARY = (
    "w1-2 + c2-5, svc C=0.5 (default, shipped)",
    "+ brand x noun pairs (--pair-weight 0.5), C=0.5",
)


def _errors(
    cfg: CategorizerConfig, x_tr: list[str], y_tr: list[str], x: list[str], y: list[str]
) -> int:
    """Rows of (x, y) misclassified by a model fitted on (x_tr, y_tr)."""
    model = TextCategorizer(cfg).fit(x_tr, y_tr)
    pred = [p for p, _ in model.predict(x)]
    return int(sum(a != b for a, b in zip(y, pred, strict=True)))


def cv_errors(cfg: CategorizerConfig, texts: list[str], labels: list[str], k: int = 5) -> int:
    """Misclassified rows over k stratified folds of the given (training-side) rows."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(labels)), labels)
    errors = 0
    for a, b in folds:
        errors += _errors(
            cfg,
            [texts[i] for i in a],
            [labels[i] for i in a],
            [texts[i] for i in b],
            [labels[i] for i in b],
        )
    return errors


def run(data: Path, label: str, names: list[str]) -> list[dict]:
    texts, labels = read_text_csv(data, "productDisplayName", label)
    tr, te = split_indices(texts, labels, SplitSpec(0, 0.2))
    x_tr, y_tr = [texts[i] for i in tr], [labels[i] for i in tr]
    x_te, y_te = [texts[i] for i in te], [labels[i] for i in te]
    rows = []
    for name in names:
        t = time.time()
        cv = cv_errors(RECIPES[name], x_tr, y_tr)
        held = _errors(RECIPES[name], x_tr, y_tr, x_te, y_te)
        rows.append(
            {
                "label": label,
                "recipe": name,
                "cv_accuracy": round(1 - cv / len(y_tr), 4),
                "cv_errors": cv,
                "n_cv": len(y_tr),
                "heldout_accuracy": round(1 - held / len(y_te), 4),
                "heldout_errors": held,
                "n_test": len(y_te),
                "seconds": round(time.time() - t, 1),
            }
        )
        log.info("%s", rows[-1])
    return rows


def label_consistency(data: Path, label: str = "articleType") -> dict:
    """How often near-identical training titles disagree: a floor no title-only model can beat.

    Titles are compared with their colour words removed (the vocabulary of the ``baseColour``
    column), so "Rocia Women Black Flats" and "Rocia Women Brown Flats" count as one title; each
    row is checked against the majority label of the *other* rows with its title.
    """
    texts, labels = read_text_csv(data, "productDisplayName", label)
    tr, _ = split_indices(texts, labels, SplitSpec(0, 0.2))
    with data.open(newline="", encoding="utf-8") as fh:
        colours = {w for r in csv.DictReader(fh) for w in normalize_text(r["baseColour"]).split()}

    def key(t: str) -> str:
        return " ".join(w for w in re.findall(r"[\w&'.]+", normalize_text(t)) if w not in colours)

    out = {"label": label, "n_train": len(tr)}
    for name, fn in (("exact_title", normalize_text), ("title_without_colour", key)):
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for i in tr:
            groups[fn(texts[i])][labels[i]] += 1
        shared = disagree = 0
        for i in tr:
            others = groups[fn(texts[i])].copy()
            others[labels[i]] -= 1
            if sum(others.values()) == 0:
                continue
            shared += 1
            disagree += others.most_common(1)[0][0] != labels[i]
        out[name] = {"rows_sharing_title": shared, "disagree_with_majority_of_others": disagree}
    log.info("%s", out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/text_steps.json"))
    ap.add_argument("--labels", default="articleType,gender,subCategory")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results: list[dict] = []
    consistency = label_consistency(args.data)
    for label in args.labels.split(","):
        names = list(RECIPES) if label == "articleType" else list(SECONDARY)
        results += run(args.data, label, names)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"label_consistency": consistency, "steps": results}
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    for r in results:
        print(
            f"| {r['label']} | {r['recipe']} | {r['cv_accuracy']:.4f} ({r['cv_errors']}) | "
            f"{r['heldout_accuracy']:.4f} ({r['heldout_errors']}) |"
        )


if __name__ == "__main__":
    main()
