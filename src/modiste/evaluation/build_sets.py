"""Build evaluation and training lists from the shared data sets, reproducibly (seeded).

``python -m modiste.evaluation.build_sets crossdomain --out DIR [--datasets D] [--seed 0]``
writes the street → catalog protocol:

- ``Q.csv``: CCP street crops (``image_path, label, x1, y1, x2, y2``) of the coarse classes top,
  bottom, outerwear, dress, footwear, from a seeded half of the annotated CCP photos; up to
  ``--per-label-queries`` per class (60 → 300 queries).
- ``G.csv``: clothing-dataset photos (``image_path, label, sender_id``) with its labels mapped to
  the same classes (:data:`CLOTHING_TO_COARSE`), from a seeded half of the contributors; up to
  ``--per-label-gallery`` per class (200 → at most 1000 images).
- ``train_clothing.csv`` and ``train_ccp.csv``: the other halves (other contributors, other
  street photos), the only data ``modiste train embedder`` may learn categories from, so the
  evaluation gallery and queries are photos never trained on.
- ``manifest.json``: seed, sources and counts.

Paths are written relative to ``--out`` (the evaluation readers resolve them against the CSV).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from modiste.exports import SafeDictWriter, restore_row

COARSE = ("top", "bottom", "outerwear", "dress", "footwear")
CLOTHING_TO_COARSE = {
    "T-Shirt": "top",
    "Shirt": "top",
    "Polo": "top",
    "Top": "top",
    "Blouse": "top",
    "Longsleeve": "top",
    "Undershirt": "top",
    "Outwear": "outerwear",
    "Blazer": "outerwear",
    "Hoodie": "outerwear",
    "Pants": "bottom",
    "Shorts": "bottom",
    "Skirt": "bottom",
    "Dress": "dress",
    "Shoes": "footwear",
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [restore_row(r) for r in csv.DictReader(f)]


def _write(path: Path, columns: list[str], rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = SafeDictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def _half(keys: list[str], seed: int) -> set[str]:
    """A seeded half of ``keys`` (sorted first, so the result does not depend on file order)."""
    uniq = sorted(set(keys))
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    return set(uniq[: len(uniq) // 2])


def _per_label(rows: list[dict[str, object]], n: int, seed: int) -> list[dict[str, object]]:
    by: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        by[str(r["label"])].append(r)
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for lab in sorted(by):
        items = by[lab]
        pick = rng.permutation(len(items))[:n]
        out.extend(items[i] for i in sorted(pick))
    return out


def build_crossdomain(
    datasets: Path,
    out: Path,
    seed: int = 0,
    per_label_queries: int = 60,
    per_label_gallery: int = 200,
) -> dict[str, object]:
    """Write Q.csv, G.csv, train_clothing.csv, train_ccp.csv and manifest.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ccp_dir, cl_dir = datasets / "ccp_street", datasets / "clothing_dataset"

    def rel(base: Path, p: str) -> str:
        return os.path.relpath((base / p).resolve(), out.resolve())

    boxes = [b for b in _read(ccp_dir / "boxes.csv") if b["coarse"] in COARSE]
    eval_photos = _half([b["image_path"] for b in boxes], seed)
    ccp = [
        {
            "image_path": rel(ccp_dir, b["image_path"]),
            "label": b["coarse"],
            **{c: b[c] for c in ("x1", "y1", "x2", "y2")},
            "_eval": b["image_path"] in eval_photos,
        }
        for b in boxes
    ]
    queries = _per_label([r for r in ccp if r["_eval"]], per_label_queries, seed)
    ccp_train = [r for r in ccp if not r["_eval"]]

    clothing: list[dict[str, object]] = [
        {
            "image_path": rel(cl_dir, r["image_path"]),
            "label": CLOTHING_TO_COARSE[r["label"]],
            "sender_id": r["sender_id"],
        }
        for r in _read(cl_dir / "labels.csv")
        if r["label"] in CLOTHING_TO_COARSE
    ]
    eval_senders = _half([str(r["sender_id"]) for r in clothing], seed + 1)
    gallery = _per_label(
        [r for r in clothing if r["sender_id"] in eval_senders], per_label_gallery, seed
    )
    cl_train = [r for r in clothing if r["sender_id"] not in eval_senders]

    box_cols = ["image_path", "label", "x1", "y1", "x2", "y2"]
    _write(out / "Q.csv", box_cols, [{c: r[c] for c in box_cols} for r in queries])
    _write(out / "train_ccp.csv", box_cols, [{c: r[c] for c in box_cols} for r in ccp_train])
    _write(out / "G.csv", ["image_path", "label", "sender_id"], gallery)
    _write(out / "train_clothing.csv", ["image_path", "label", "sender_id"], cl_train)

    def counts(rows: list[dict[str, object]]) -> dict[str, int]:
        c: dict[str, int] = defaultdict(int)
        for r in rows:
            c[str(r["label"])] += 1
        return dict(sorted(c.items()))

    manifest: dict[str, object] = {
        "seed": seed,
        "queries": {"source": "ccp_street/boxes.csv (coarse)", "counts": counts(queries)},
        "gallery": {"source": "clothing_dataset/labels.csv (mapped)", "counts": counts(gallery)},
        "train_ccp": counts(ccp_train),
        "train_clothing": counts(cl_train),
        "label_map": CLOTHING_TO_COARSE,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m modiste.evaluation.build_sets")
    sub = ap.add_subparsers(dest="set", required=True)
    cd = sub.add_parser("crossdomain", help="street crops → clothing-dataset photos")
    cd.add_argument("--out", type=Path, required=True)
    default_ds = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
    cd.add_argument("--datasets", type=Path, default=default_ds)
    cd.add_argument("--seed", type=int, default=0)
    cd.add_argument("--per-label-queries", type=int, default=60)
    cd.add_argument("--per-label-gallery", type=int, default=200)
    args = ap.parse_args(argv)
    manifest = build_crossdomain(
        args.datasets, args.out, args.seed, args.per_label_queries, args.per_label_gallery
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
