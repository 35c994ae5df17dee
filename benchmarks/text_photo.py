"""Product type from title and photo: the step table of docs/decisions/text-categorizer.md.

Run: ``flock /tmp/modiste-heavy.lock .venv/bin/python -m benchmarks.text_photo --cache
/tmp/modiste-cache/text-photo --json benchmarks/results/text_photo.json`` (about 5 CPU-minutes
once the 4,082 photos' features are cached; embedding them takes about a minute).

Per split (grouped: union-find over normalised titles and photo bytes; stratified: the split the
title-only model shipped with), every variant is fitted on the training side, its settings
chosen on a grouped validation split carved from that side (the procedure `modiste train text
--image-column` runs), and scored once on the same test rows that have a photo.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modiste.cleaning.photo_head import FUSIONS, PhotoHead, fuse_probs
from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.training.text import SplitSpec, split_indices
from modiste.training.text_photo import (
    PhotoRows,
    PhotoTraining,
    carve_validation,
    choose_fusion,
    moved_errors,
    photo_features,
    read_text_photo_csv,
)

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/fashion_products/products.csv"
log = logging.getLogger("text_photo")


def _acc(pred: Sequence[str], y: Sequence[str]) -> float:
    return float(np.mean([a == b for a, b in zip(pred, y, strict=True)]))


def run_split(
    rows: PhotoRows,
    feats: np.ndarray,
    split: SplitSpec,
    cfg: CategorizerConfig,
    grid: PhotoTraining,
) -> dict[str, Any]:
    """Every variant on one split's test rows with a photo; settings from validation only."""
    has = np.isfinite(feats).all(axis=1)
    tr, te = split_indices(rows.texts, rows.labels, split, rows.links)
    sub, val = carve_validation(rows, tr, split, grid)
    sub, val = tr[sub], tr[val]
    vsub, vval, trp, tep = sub[has[sub]], val[has[val]], tr[has[tr]], te[has[te]]
    texts, labels = rows.texts, rows.labels
    title_v = TextCategorizer(cfg).fit([texts[i] for i in sub], [labels[i] for i in sub])
    p_val = title_v.predict_proba([texts[i] for i in vval])
    heads = [
        PhotoHead.fit(feats[vsub], [labels[i] for i in vsub], c, grid.spec) for c in grid.c_grid
    ]
    y_val = [labels[i] for i in vval]
    chosen_head, table = choose_fusion(p_val, heads, feats[vval], y_val, title_v.classes, grid)

    def best(variant: str) -> dict[str, Any]:
        """The variant's best validation row, ties broken as choose_fusion breaks them."""
        rows_ = [r for r in table if r["variant"] == variant]
        return max(rows_, key=lambda r: (r["accuracy"], -r.get("log_loss", 0.0)))

    title = TextCategorizer(cfg).fit([texts[i] for i in tr], [labels[i] for i in tr])
    classes = np.array(title.classes)
    y = [labels[i] for i in tep]
    p_text = title.predict_proba([texts[i] for i in tep])
    before = list(classes[p_text.argmax(1)])
    steps: list[dict[str, Any]] = [
        {"variant": "title only (shipped recipe)", "accuracy": _acc(before, y)}
    ]
    head_cache: dict[float, PhotoHead] = {}

    def head_for(c: float) -> PhotoHead:
        if c not in head_cache:
            head_cache[c] = PhotoHead.fit(feats[trp], [labels[i] for i in trp], c, grid.spec)
        return head_cache[c]

    ph = best("photo only")
    q = head_for(ph["c"]).on_classes(feats[tep], title.classes)
    steps.append(
        {
            "variant": f"photo only (logistic head, C={ph['c']:g})",
            "accuracy": _acc(list(classes[q.argmax(1)]), y),
            "validation_accuracy": ph["accuracy"],
        }
    )
    moved: dict[str, Any] = {}
    picked = (chosen_head.fusion, chosen_head.info["c"], chosen_head.weight)
    for fusion in FUSIONS:
        r = best(fusion)
        q = head_for(r["c"]).on_classes(feats[tep], title.classes)
        after = list(classes[fuse_probs(p_text, q, fusion, r["weight"]).argmax(1)])
        name = f"title + photo, {fusion} fusion (C={r['c']:g}, w={r['weight']:g})"
        if (fusion, r["c"], r["weight"]) == picked:
            name += " (chosen on validation: what train text --image-column ships)"
            moved = moved_errors(y, before, after)
        steps.append(
            {"variant": name, "accuracy": _acc(after, y), "validation_accuracy": r["accuracy"]}
        )
    return {
        "split": {"seed": split.seed, "test_size": split.test_size, "grouped": split.grouped},
        "n_test_rows_with_photo": len(tep),
        "n_validation_photos": len(vval),
        "validation_title_only": table[0]["accuracy"],
        "steps": steps,
        "moved_by_chosen_fusion": moved,
        "validation_table": table,
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--text-column", default="productDisplayName")
    ap.add_argument("--label-column", default="articleType")
    ap.add_argument("--image-column", default="image_path")
    ap.add_argument("--cache", type=Path, default=None, help="Photo feature cache folder.")
    ap.add_argument("--keep-weights", type=float, default=0.03)
    ap.add_argument("--c-grid", default="", help="Head C values, e.g. 0.1 (default: training's).")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.time()
    rows = read_text_photo_csv(args.data, args.text_column, args.label_column, args.image_column)
    grid = PhotoTraining()
    if args.c_grid:  # smoke runs: one C keeps the logistic fits few
        grid = PhotoTraining(c_grid=tuple(float(c) for c in args.c_grid.split(",")))
    feats = photo_features(rows, np.arange(len(rows.texts)), grid.spec, None, args.cache)
    cfg = CategorizerConfig(keep_weights=args.keep_weights)
    result: dict[str, Any] = {
        "data": args.data.name,
        "n_rows": len(rows.texts),
        "n_rows_with_photo": int(np.isfinite(feats).all(axis=1).sum()),
        "photo_errors": len(rows.errors),
        "photo_spec": grid.spec.to_dict(),
        "splits": [],
    }
    for grouped in (True, False):
        split = SplitSpec(0, 0.2, grouped)
        part = run_split(rows, feats, split, cfg, grid)
        result["splits"].append(part)
        for s in part["steps"]:
            log.info("grouped=%s  %.4f  %s", grouped, s["accuracy"], s["variant"])
    result["seconds"] = round(time.time() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
