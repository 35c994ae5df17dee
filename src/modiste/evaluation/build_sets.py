"""Build evaluation and training lists from the shared data sets, reproducibly (seeded).

``python -m modiste.evaluation.build_sets crossdomain --out DIR [--catalog C] [--seed 0]``
writes the street → catalog protocol:

- ``Q.csv``: CCP street crops (``image_path, label, x1, y1, x2, y2``) of the catalog's coarse
  classes, from a seeded half of the annotated CCP photos; up to ``--per-label-queries`` per class
  (60 → 300 queries).
- ``G.csv``: catalog photos (``image_path, label, group``) of the other half of the catalog's
  groups; up to ``--per-label-gallery`` per class.
- ``train_ccp.csv`` and ``train_catalog.csv``: the other halves (other street photos, other
  catalog groups), the only data ``modiste train embedder`` may learn categories from, so the
  evaluation gallery and queries are photos never trained on.
- ``manifest.json``: seed, sources, label map and counts.

Two catalogs (``--catalog``):

- ``fashion_products`` (what a shop's catalog looks like: Myntra studio packshots and
  model-on-white photos). Classes top, bottom, outerwear, footwear, bag; ``articleType`` is mapped
  the way CCP's ``coarse`` column maps its fine tags (:data:`ARTICLE_TO_COARSE`: sweaters,
  sweatshirts, kurtas are tops; jackets and shrugs outerwear, as CCP's blazer, coat, cardigan).
  Accessories (belts, caps, scarves), innerwear, dresses (17 photos) and tracksuits (top and
  bottom in one photo) are left out; ``--distractors`` keeps the accessories in ``G.csv`` as
  ``accessory``, a class no query has. Byte-identical photos under other ids (colour variants)
  share a ``group`` (sha256 of the bytes) and so a side of the split; a group whose ids map to
  different classes is a labelling error and is dropped.
- ``clothing_dataset`` (the default, the first protocol: consumer photos by 348 contributors,
  grouped by ``sender_id``, classes top, bottom, outerwear, dress, footwear). Its training half
  is also written as ``train_clothing.csv``, the name older training runs read.

Paths are written relative to ``--out`` (the evaluation readers resolve them against the CSV).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modiste.errors import ConfigError
from modiste.exports import SafeDictWriter, restore_row

COARSE = ("top", "bottom", "outerwear", "dress", "footwear")
CATALOGS = ("clothing_dataset", "fashion_products")
PACKSHOT_COARSE = ("top", "bottom", "outerwear", "footwear", "bag")
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
# Myntra articleType → CCP coarse class, as CCP files its fine tags: sweater, sweatshirt, hoodie,
# jumper, vest are "top"; blazer, cardigan, coat, jacket "outerwear"; bag, purse, wallet "bag".
_ARTICLES = {
    "top": "Tshirts Shirts Tops Kurtas Kurtis Tunics Sweaters Sweatshirts",
    "outerwear": "Jackets Shrug",
    "bottom": "Jeans Trousers Track_Pants Shorts Skirts Capris Leggings Churidar Lounge_Pants "
    "Lounge_Shorts",
    "footwear": "Casual_Shoes Sports_Shoes Formal_Shoes Heels Flats Sandals Sports_Sandals "
    "Flip_Flops",
    "bag": "Handbags Backpacks Clutches Laptop_Bag Duffel_Bag Mobile_Pouch Rucksacks "
    "Messenger_Bag Waist_Pouch",
}
ARTICLE_TO_COARSE = {
    article.replace("_", " "): coarse
    for coarse, names in _ARTICLES.items()
    for article in names.split()
}
# CCP's "accessory" tags (belt, hat, scarf): kept in the gallery only with --distractors
ARTICLE_DISTRACTORS = dict.fromkeys(
    ("Belts", "Caps", "Hat", "Headband", "Scarves", "Dupatta"), "accessory"
)


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


def _ccp_eval_photos(boxes: list[dict[str, str]], classes: tuple[str, ...], seed: int) -> set[str]:
    """The evaluation half of the CCP photos, the same for every catalog.

    Photos with a box of the first protocol's classes (:data:`COARSE`) are split exactly as that
    protocol splits them, so a model trained on its training half never saw a query of another;
    photos only the other classes reach (a bag, no garment of those) are halved on their own.
    """
    first = [b["image_path"] for b in boxes if b["coarse"] in COARSE]
    rest = {b["image_path"] for b in boxes if b["coarse"] in classes} - set(first)
    return _half(first, seed) | _half(sorted(rest), seed)


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


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def packshot_rows(
    fp_dir: Path, rel: Callable[[Path, str], str], distractors: bool = False
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """fashion_products rows with a photo, mapped to coarse classes and grouped by their bytes.

    Returns the rows (``image_path, label, group``) and what was left out, by reason.
    """
    mapping = {**ARTICLE_TO_COARSE, **(ARTICLE_DISTRACTORS if distractors else {})}
    by_group: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _read(fp_dir / "products.csv"):
        if r.get("image_path"):
            by_group[_file_hash(fp_dir / r["image_path"])].append(r)
    rows: list[dict[str, object]] = []
    left_out = {"unmapped": 0, "conflicting_copies": 0}
    for group in sorted(by_group):
        members = by_group[group]
        labels = {mapping.get(r["articleType"]) for r in members}
        if len(labels) > 1:  # one photo filed as two kinds of article: a labelling error
            left_out["conflicting_copies"] += len(members)
            continue
        label = labels.pop()
        if label is None:
            left_out["unmapped"] += len(members)
            continue
        rows += [
            {"image_path": rel(fp_dir, r["image_path"]), "label": label, "group": group}
            for r in sorted(members, key=lambda r: r["image_path"])
        ]
    return rows, left_out


def clothing_rows(cl_dir: Path, rel: Callable[[Path, str], str]) -> list[dict[str, object]]:
    """clothing_dataset rows mapped to coarse classes, grouped by contributor."""
    return [
        {
            "image_path": rel(cl_dir, r["image_path"]),
            "label": CLOTHING_TO_COARSE[r["label"]],
            "sender_id": r["sender_id"],
        }
        for r in _read(cl_dir / "labels.csv")
        if r["label"] in CLOTHING_TO_COARSE
    ]


def build_crossdomain(
    datasets: Path,
    out: Path,
    seed: int = 0,
    per_label_queries: int = 60,
    per_label_gallery: int = 200,
    catalog: str = "clothing_dataset",
    distractors: bool = False,
) -> dict[str, object]:
    """Write Q.csv, G.csv, train_ccp.csv, train_catalog.csv and manifest.json into ``out``.

    Raises:
        ConfigError: ``catalog`` is not one of :data:`CATALOGS`.
    """
    if catalog not in CATALOGS:
        raise ConfigError(f"unknown catalog {catalog!r}; valid: {', '.join(CATALOGS)}")
    out.mkdir(parents=True, exist_ok=True)
    ccp_dir = datasets / "ccp_street"
    classes = COARSE if catalog == "clothing_dataset" else PACKSHOT_COARSE

    def rel(base: Path, p: str) -> str:
        return os.path.relpath((base / p).resolve(), out.resolve())

    all_boxes = _read(ccp_dir / "boxes.csv")
    boxes = [b for b in all_boxes if b["coarse"] in classes]
    eval_photos = _ccp_eval_photos(all_boxes, classes, seed)
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

    left_out: dict[str, int] = {}
    if catalog == "clothing_dataset":
        rows, group_col = clothing_rows(datasets / "clothing_dataset", rel), "sender_id"
        label_map: dict[str, str] = CLOTHING_TO_COARSE
    else:
        fp_dir = datasets / "fashion_products"
        rows, left_out = packshot_rows(fp_dir, rel, distractors)
        group_col = "group"
        label_map = {**ARTICLE_TO_COARSE, **(ARTICLE_DISTRACTORS if distractors else {})}
    # distractors are halved on their own, so adding them moves no garment photo between halves
    eval_groups = _half([str(r[group_col]) for r in rows if r["label"] in classes], seed + 1)
    eval_groups |= _half([str(r[group_col]) for r in rows if r["label"] not in classes], seed + 1)
    gallery = _per_label([r for r in rows if r[group_col] in eval_groups], per_label_gallery, seed)
    # distractors are gallery-only: nothing learns or queries the class
    cat_train = [r for r in rows if r[group_col] not in eval_groups and r["label"] in classes]

    box_cols = ["image_path", "label", "x1", "y1", "x2", "y2"]
    _write(out / "Q.csv", box_cols, [{c: r[c] for c in box_cols} for r in queries])
    _write(out / "train_ccp.csv", box_cols, [{c: r[c] for c in box_cols} for r in ccp_train])
    cat_cols = ["image_path", "label", group_col]
    _write(out / "G.csv", cat_cols, gallery)
    _write(out / "train_catalog.csv", cat_cols, cat_train)
    if catalog == "clothing_dataset":
        _write(out / "train_clothing.csv", cat_cols, cat_train)

    def counts(rows: list[dict[str, object]]) -> dict[str, int]:
        c: dict[str, int] = defaultdict(int)
        for r in rows:
            c[str(r["label"])] += 1
        return dict(sorted(c.items()))

    source = {
        "clothing_dataset": "clothing_dataset/labels.csv (mapped; split by sender_id)",
        "fashion_products": "fashion_products/products.csv articleType (mapped; split by "
        "sha256 of the photo bytes)",
    }[catalog]
    manifest: dict[str, object] = {
        "seed": seed,
        "catalog": catalog,
        "queries": {"source": "ccp_street/boxes.csv (coarse)", "counts": counts(queries)},
        "gallery": {"source": source, "counts": counts(gallery)},
        "train_ccp": counts(ccp_train),
        "train_catalog": counts(cat_train),
        "label_map": label_map,
    }
    if catalog == "clothing_dataset":
        manifest["train_clothing"] = manifest["train_catalog"]
    else:
        manifest["left_out"] = left_out
        manifest["distractors"] = distractors
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m modiste.evaluation.build_sets")
    sub = ap.add_subparsers(dest="set", required=True)
    cd = sub.add_parser("crossdomain", help="street crops → catalog photos")
    cd.add_argument("--out", type=Path, required=True)
    cd.add_argument(
        "--catalog",
        choices=CATALOGS,
        default="clothing_dataset",
        help="the gallery side: fashion_products packshots or clothing_dataset photos",
    )
    cd.add_argument(
        "--distractors",
        action="store_true",
        help="fashion_products: keep belts, caps, scarves in G.csv as 'accessory' (never queried)",
    )
    default_ds = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
    cd.add_argument("--datasets", type=Path, default=default_ds)
    cd.add_argument("--seed", type=int, default=0)
    cd.add_argument("--per-label-queries", type=int, default=60)
    cd.add_argument("--per-label-gallery", type=int, default=200)
    args = ap.parse_args(argv)
    manifest = build_crossdomain(
        args.datasets,
        args.out,
        args.seed,
        args.per_label_queries,
        args.per_label_gallery,
        args.catalog,
        args.distractors,
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
