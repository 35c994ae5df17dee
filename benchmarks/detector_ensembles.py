"""Detector heads and their averages, scored on the validation images of `train detector`.

Run after validation runs of ``modiste train detector ... --val-fraction 0.2 --out H.npz`` (same
split arguments, so the same validation images)::

    env OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.detector_ensembles A.npz B.npz \
        --json benchmarks/results/detector_ensembles.json

A head file with ``members`` > 1 (``--members``) is split into its members. Every single head and
every combination of them is averaged as ``--members`` ships it (mean heat probability, mean size
and offset) and scored on the validation images, which none of the heads trained on. The held-out
images are not touched.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.output import write_result

if TYPE_CHECKING:
    import torch

from modiste.config import Settings
from modiste.evaluation.detection import evaluate_detections, read_detection_set
from modiste.models.detector_head import ensemble, load_head
from modiste.models.registry import create_backbone
from modiste.training.detector import (
    extract_features,
    predict_cached,
    split_items,
    split_positions,
    take_images,
)

CCP = Path(__file__).resolve().parents[2] / "shared/datasets/ccp_street"
log = logging.getLogger("detector_ensembles")


def members(path: Path) -> list[tuple[str, torch.nn.Module]]:
    """(name, single head) for each head in a file: the file itself, or each member."""
    head, cfg = load_head(path)
    if cfg.members == 1:
        return [(path.stem, head)]
    parts = head.get_submodule("members").children()
    return [(f"{path.stem}[{i}]", m) for i, m in enumerate(parts)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("heads", type=Path, nargs="+")
    ap.add_argument("--images", type=Path, default=CCP / "images.csv")
    ap.add_argument("--boxes", type=Path, default=CCP / "boxes.csv")
    ap.add_argument("--holdout-fraction", type=float, default=0.3)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/modiste-cache/detector"))
    ap.add_argument("--max-size", type=int, default=4, help="Largest combination scored.")
    ap.add_argument(
        "--max-images", type=int, default=None, help="First N annotated photos only (smoke runs)."
    )
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/detector_ensembles.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    singles = [m for path in args.heads for m in members(path)]
    _, cfg = load_head(args.heads[0])
    cfg = replace(cfg, members=1)
    items = read_detection_set(args.images, args.boxes, "label", cfg.classes)[: args.max_images]
    train, _ = split_items(items, args.holdout_fraction, args.seed)
    backbone = create_backbone(cfg.backbone, pretrained=True, weights_dirs=(Settings().model_dir,))
    f16, f32, lbs = extract_features(train, backbone, cfg, args.cache_dir)
    _, val = split_positions(len(train), args.val_fraction, args.seed)
    truth, v16, v32, vlbs = take_images(val, train, f16, f32, lbs)
    vlbs = vlbs[: len(val)]
    results: list[dict[str, Any]] = []
    for size in range(1, min(args.max_size, len(singles)) + 1):
        for combo in itertools.combinations(singles, size):
            head = combo[0][1] if size == 1 else ensemble(m for _, m in combo)
            preds = predict_cached(head, v16, v32, vlbs, cfg)  # type: ignore[arg-type]
            ev = evaluate_detections(preds, truth, cfg.classes)
            names = [name for name, _ in combo]
            map50 = round(float(ev["map50"]), 4)
            per_class = {k: round(float(v), 3) for k, v in ev["per_class"].items()}
            log.info("%-40s mAP50 %.3f", " + ".join(names), map50)
            results.append({"heads": names, "map50": map50, "per_class": per_class})
    by_size = {
        str(k): float(np.mean([r["map50"] for r in results if len(r["heads"]) == k]))
        for k in range(1, min(args.max_size, len(singles)) + 1)
    }
    report = {"n_validation": len(val), "mean_map50_by_size": by_size, "combinations": results}
    write_result(args.json, json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
