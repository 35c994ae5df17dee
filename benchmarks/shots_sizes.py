"""Shot head input size over several CV splits, and a second larger pass for unsure photos only.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_sizes [--sizes 224,288,320]``.

The gallery head (real photos only: Magento, CCP, clothing-dataset; the shipped recipe's
avg‖max + flip + layout cues + flip TTA) is cross-validated at each input size on the same
grouped folds, drawn ``--splits`` times. Then the *refine* emulation: the ``--base`` size's
out-of-fold probabilities, where their top is under ``tau`` replaced by a larger size's
out-of-fold probabilities of the same photo: what a second, larger pass for the photos the
first one is unsure of would score, and how many photos it would send through it. ``--pairs
224+384`` also scores the gallery head on two sizes' pooled features side by side (one
L2-normalised row, then the cues), every photo through both. Figures:
``docs/decisions/shot-classifier.md`` ("One split is not the figure").
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="224,288,320")
    ap.add_argument("--base", type=int, default=224, help="size of the first pass")
    ap.add_argument("--splits", type=int, default=5, help="CV splits (seeds 0, 1, ...)")
    ap.add_argument("--first-seed", type=int, default=0, help="seed of the first split")
    ap.add_argument("--taus", default="0.6,0.7,0.8,0.9,0.95")
    ap.add_argument("--pairs", default="", help="e.g. 224+384: two sizes' features side by side")
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/modiste-cache/shots"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/modiste-cache/ablation-data"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from modiste.config import Settings
    from modiste.evaluation.shots import shot_report
    from modiste.gallery.regulation import load_regulation
    from modiste.models.heads import softmax
    from modiste.training.shot_data import FeatureCache, load_shot_dataset
    from modiste.training.shot_run import _magento_category
    from modiste.training.shots import (
        FeatureBuilder,
        FeatureSpec,
        calibrate,
        cross_validate,
        n_cues,
    )

    pairs = [tuple(int(s) for s in p.split("+")) for p in args.pairs.split(",") if p]
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {args.base})
    taus = [float(t) for t in args.taus.split(",")]
    samples = load_shot_dataset(args.datasets)
    paths = [s.path for s in samples]
    y = np.array([s.label for s in samples])
    mag = np.flatnonzero([s.source == "magento" for s in samples])
    pids = [samples[i].product_id for i in mag]
    cats = _magento_category(args.datasets)
    regulation = load_regulation(None)
    settings = Settings(data_dir=args.work)
    cache = FeatureCache(args.cache_dir)

    # size -> split -> calibrated out-of-fold probabilities; labels are the same for every size
    proba: dict[int, list[np.ndarray]] = {}
    labels: list[str] = []

    def splits(spec: FeatureSpec, x_o: np.ndarray, x_f: np.ndarray, x_t: np.ndarray) -> list:
        """Calibrated out-of-fold probabilities of the gallery head, one per split."""
        nonlocal labels
        out = []
        for seed in range(args.first_seed, args.first_seed + args.splits):
            oof, labels = cross_validate(
                samples, x_o, x_f, 5, True, 1.0, True, seed=seed, boost_last=n_cues(spec), x_t=x_t
            )
            out.append(softmax(oof / calibrate(oof, labels, list(y))))
        return out

    for size in sizes:
        spec = FeatureSpec(size=size, tta=True)
        proba[size] = splits(spec, *FeatureBuilder(spec, settings, cache).rows(paths))
    paired: dict[str, list[np.ndarray]] = {}
    for first, second in pairs:  # the rows a refine expert with --refine-base reads
        base = FeatureBuilder(FeatureSpec(size=first, tta=True), settings, cache)
        spec = FeatureSpec(size=second, tta=True)
        side_by_side = FeatureBuilder(spec, settings, cache).rows(paths, base=base)
        paired[f"{first}+{second}"] = splits(spec, *side_by_side)

    def figures(p: np.ndarray) -> tuple[float, float]:
        pred = np.array(labels)[p.argmax(axis=1)]
        rep = shot_report(
            pids,
            list(y[mag]),
            list(pred[mag]),
            regulation,
            [cats.get(pid) for pid in pids],
            list(p.max(axis=1)[mag]),
        )
        return rep["accuracy"], rep["order_exact_match"]

    def summary(per_split: Sequence[tuple[float, ...]], names: tuple[str, ...]) -> dict[str, Any]:
        arr = np.array(per_split, dtype=float)
        return {
            "per_split": [dict(zip(names, row, strict=True)) for row in arr.tolist()],
            "mean": dict(zip(names, arr.mean(axis=0).tolist(), strict=True)),
            "sd": dict(zip(names, arr.std(axis=0, ddof=1).tolist(), strict=True))
            if len(arr) > 1
            else dict.fromkeys(names, 0.0),
        }

    by_size: dict[str, Any] = {}
    refine: dict[str, Any] = {}
    rows = []
    for size in sizes:
        got = summary([figures(p) for p in proba[size]], ("magento_accuracy", "order_exact"))
        by_size[str(size)] = got
        m = got["mean"]
        rows.append(
            f"| {size} px, every photo | {m['magento_accuracy']:.3f} | {m['order_exact']:.3f} "
            "| 1.000 | 1.000 |"
        )
    by_pair: dict[str, Any] = {}
    for name, ps in paired.items():
        got = summary([figures(p) for p in ps], ("magento_accuracy", "order_exact"))
        by_pair[name] = got
        m = got["mean"]
        rows.append(
            f"| {name} px side by side, every photo | {m['magento_accuracy']:.3f} | "
            f"{m['order_exact']:.3f} | 1.000 | 1.000 |"
        )
    names = ("magento_accuracy", "order_exact", "sent_magento", "sent_all")
    for size in (s for s in sizes if s != args.base):
        for tau in taus:
            per_split = []
            for base_p, big_p in zip(proba[args.base], proba[size], strict=True):
                unsure = base_p.max(axis=1) < tau
                acc, order = figures(np.where(unsure[:, None], big_p, base_p))
                per_split.append((acc, order, float(unsure[mag].mean()), float(unsure.mean())))
            got = summary(per_split, names)
            refine[f"{size}@{tau}"] = got
            m = got["mean"]
            rows.append(
                f"| {args.base} px, {size} px under {tau} | {m['magento_accuracy']:.3f} | "
                f"{m['order_exact']:.3f} | {m['sent_magento']:.3f} | {m['sent_all']:.3f} |"
            )
    out = {
        "splits": args.splits,
        "first_seed": args.first_seed,
        "base": args.base,
        "sizes": by_size,
        "refine": refine,
    }
    if by_pair:
        out["pairs"] = by_pair
    print(
        f"| gallery head ({args.splits} splits, mean) | Magento acc | order exact | "
        "photos through the larger pass: Magento | all real rows |\n|---|---|---|---|---|"
    )
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
