"""Two detector head files on the same held-out photos: mAP50 each, and how sure the difference is.

    flock /tmp/modiste-heavy.lock python -m benchmarks.detector_ab OLD.npz NEW.npz \
        --queries Q.csv --json benchmarks/results/detector_ab.json

Both heads run through the real inference path (``create_detector``: ONNX Runtime, the mirror
pass when unsure) on the held-out list of ``modiste train detector`` (never trained on). The
difference's spread is a paired bootstrap over photos: the same resampled photos score both heads,
so what a resample shows is the heads' difference, not the sample's luck.

To choose between variants without the held-out photos, give ``--images`` the validation list a
validation run writes (``modiste train detector --val-fraction 0.2 --validation-csv V.csv``) and
compare two heads trained without those photos.

``--queries`` (street → catalog queries: ``image_path,label,x1,y1,x2,y2``, as
``benchmarks.search_e2e`` builds them) adds what a shopper's photo search starts from: the garment
each head offers over the query's box (the detection at 0.3 or more overlapping it most, IoU 0.5
or more, as ``search_e2e`` picks it) and whether its class is the query's. ``--photos`` (a
gallery CSV with ``image_path``, such as Magento's) counts the photos each head sends through its
second, mirrored pass (a plain-pass peak in the unsure band): the detector's cost in an ingest.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.output import write_result
from benchmarks.search_e2e import PICK_IOU, iou
from modiste.config import Settings
from modiste.domain import Box, Garment
from modiste.evaluation.detection import evaluate_detections, read_detection_set
from modiste.imaging import decode_image
from modiste.models.detector import create_detector

REPO = Path(__file__).resolve().parents[1]
CCP = REPO.parent / "shared/datasets/ccp_street"
SHOWN = 0.3  # the catalog's and the photo search's detection threshold
log = logging.getLogger("detector_ab")


def bootstrap(
    a: list[list[Garment]],
    b: list[list[Garment]],
    items: list[Any],
    classes: tuple[str, ...],
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """mAP50 of ``b`` minus ``a`` over photos resampled with replacement (paired)."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        idx = rng.integers(0, len(items), len(items))
        picked = [items[i] for i in idx]
        scores = [
            evaluate_detections([p[i] for i in idx], picked, classes)["map50"] for p in (a, b)
        ]
        diffs.append(scores[1] - scores[0])
    d = np.asarray(diffs)
    lo, hi = np.percentile(d, [5, 95])
    return {
        "mean": round(float(d.mean()), 4),
        "interval_90": [round(float(lo), 4), round(float(hi), 4)],
        "share_positive": round(float((d > 0).mean()), 3),
    }


def offered(found: list[Garment], box: Box) -> str | None:
    """The class of the garment a shopper's search starts from over ``box``, if any."""
    shown = [g for g in found if g.confidence >= SHOWN]
    if not shown:
        return None
    best = max(shown, key=lambda g: iou(g.box, box))
    return best.label if iou(best.box, box) >= PICK_IOU else None


def picks(detectors: dict[str, Any], queries: Path) -> dict[str, Any]:
    """Per head: queries offered a garment, offered their own class; and the pairs' table."""
    rows = list(csv.DictReader(queries.open(newline="", encoding="utf-8")))
    got: dict[str, list[str | None]] = {name: [] for name in detectors}
    for r in rows:
        image = decode_image((queries.parent / r["image_path"]).resolve()).image.convert("RGB")
        box = Box(*(float(r[k]) for k in ("x1", "y1", "x2", "y2")))
        for name, det in detectors.items():
            got[name].append(offered(det.predict([image])[0], box))
    labels = [r["label"] for r in rows]

    def verdict(label: str, pick: str | None) -> str:
        return "none" if pick is None else ("right" if pick == label else "wrong")

    out: dict[str, Any] = {"queries": len(rows)}
    for name, picked in got.items():
        out[name] = {
            "offered": sum(p is not None for p in picked),
            "right_class": sum(p == lab for lab, p in zip(labels, picked, strict=True)),
            "wrong": dict(
                Counter(
                    f"{lab}->{p}" for lab, p in zip(labels, picked, strict=True) if p and p != lab
                ).most_common()
            ),
        }
    a, b = (got[n] for n in detectors)
    table = Counter(
        f"{verdict(lab, x)}/{verdict(lab, y)}" for lab, x, y in zip(labels, a, b, strict=True)
    )
    out["a_b"] = dict(sorted(table.items()))
    return out


def mirrored(detectors: dict[str, Any], photos: Path) -> dict[str, Any]:
    """Per head: how many of the gallery's photos its mirror pass runs on, photo by photo as
    an ingest sends them (the detector's own count)."""
    rows = list(csv.DictReader(photos.open(newline="", encoding="utf-8")))
    start = {name: det.mirror_passes for name, det in detectors.items()}
    for r in rows:
        image = decode_image(photos.parent / r["image_path"]).image  # once for every head
        for det in detectors.values():
            det.predict([image])
    return {"photos": len(rows), **{n: d.mirror_passes - start[n] for n, d in detectors.items()}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.detector_ab")
    ap.add_argument("head_a", type=Path, help="the baseline head file")
    ap.add_argument("head_b", type=Path, help="the head compared with it")
    ap.add_argument(
        "--images", type=Path, default=REPO / "benchmarks/data/ccp_detector_holdout.csv"
    )
    ap.add_argument("--boxes", type=Path, default=CCP / "boxes.csv")
    ap.add_argument("--queries", type=Path, default=None, help="search_e2e's Q.csv")
    ap.add_argument("--photos", type=Path, default=None, help="a gallery CSV (image_path)")
    ap.add_argument("--resamples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-images", type=int, default=None, help="first N photos (smoke runs)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    settings = Settings()
    names = ("a", "b")
    detectors = {
        n: create_detector(settings, str(p), min_score=0.01)
        for n, p in zip(names, (args.head_a, args.head_b), strict=True)
    }
    classes = detectors["a"].classes
    items = read_detection_set(args.images, args.boxes, "label", classes)[: args.max_images]
    preds: dict[str, list[list[Garment]]] = {n: [] for n in names}
    for it in items:
        image = decode_image(it.path).image  # once for both heads
        for n, det in detectors.items():
            preds[n].append(det.predict([image])[0])
    report: dict[str, Any] = {
        "heads": {"a": args.head_a.name, "b": args.head_b.name},
        "n_images": len(items),
    }
    for n in names:
        ev = evaluate_detections(preds[n], items, classes)
        report[n] = {
            "map50": round(float(ev["map50"]), 4),
            "per_class": {k: round(float(v), 3) for k, v in ev["per_class"].items()},
        }
        log.info(
            "%s %s: mAP50 %.3f", n, args.head_a.name if n == "a" else args.head_b.name, ev["map50"]
        )
    report["b_minus_a"] = bootstrap(
        preds["a"], preds["b"], items, tuple(classes), args.resamples, args.seed
    )
    log.info("b - a: %s", report["b_minus_a"])
    if args.queries is not None:
        report["picks"] = picks(detectors, args.queries)
        log.info("picks: %s", report["picks"])
    if args.photos is not None:
        report["mirror_pass"] = mirrored(detectors, args.photos)
        log.info("mirror pass: %s", report["mirror_pass"])
    text = json.dumps(report, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
