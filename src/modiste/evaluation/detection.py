"""Detection evaluation: read a detection set, map its labels, VOC AP50, and a drawn sample.

A detection set is ``images.csv`` (``image_path``, optional ``annotated``) and ``boxes.csv``
(``image_path``, a label column, ``x1,y1,x2,y2``), paths relative to each CSV's folder. Only
annotated images are scored; an image with no box of a kept class still counts (false positives).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modiste.domain import Box, Garment
from modiste.errors import FeedError
from modiste.exports import restore_row

log = logging.getLogger(__name__)

# CCP fine and coarse labels -> detector classes (None: not scored, not trained).
# - hat: CCP files hats under "accessory"; shoppers search hats as their own category.
# - socks -> accessory (catalogs such as the fashion_products set file socks under Accessories).
# - stockings, tights, bra (CCP "legwear"/"underwear"): worn under other garments, their boxes
#   duplicate the bottom/footwear boxes, and the catalog classes have no hosiery/underwear class.
LABEL_MAP: dict[str, str | None] = {
    "hat": "hat",
    "cap": "hat",
    "beanie": "hat",
    "socks": "accessory",
    "stockings": None,
    "tights": None,
    "legwear": None,
    "bra": None,
    "underwear": None,
    "accessories": "accessory",
    "belt": "accessory",
    "bracelet": "accessory",
    "earrings": "accessory",
    "glasses": "accessory",
    "gloves": "accessory",
    "necklace": "accessory",
    "ring": "accessory",
    "scarf": "accessory",
    "sunglasses": "accessory",
    "tie": "accessory",
    "watch": "accessory",
    "bag": "bag",
    "purse": "bag",
    "wallet": "bag",
    "jeans": "bottom",
    "leggings": "bottom",
    "pants": "bottom",
    "shorts": "bottom",
    "skirt": "bottom",
    "dress": "dress",
    "romper": "dress",
    "boots": "footwear",
    "flats": "footwear",
    "heels": "footwear",
    "loafers": "footwear",
    "pumps": "footwear",
    "sandals": "footwear",
    "shoes": "footwear",
    "sneakers": "footwear",
    "wedges": "footwear",
    "clogs": "footwear",
    "blazer": "outerwear",
    "cape": "outerwear",
    "cardigan": "outerwear",
    "coat": "outerwear",
    "jacket": "outerwear",
    "suit": "outerwear",
    "blouse": "top",
    "bodysuit": "top",
    "hoodie": "top",
    "jumper": "top",
    "shirt": "top",
    "sweater": "top",
    "sweatshirt": "top",
    "t-shirt": "top",
    "top": "top",
    "vest": "top",
}


def map_label(raw: str, classes: Sequence[str]) -> str | None:
    """A data set's label as one of ``classes``, or None when it is not scored."""
    name = raw.strip().lower()
    if name in classes:
        return name
    mapped = LABEL_MAP.get(name)
    return mapped if mapped in classes else None


@dataclass
class DetectionItem:
    path: Path
    boxes: np.ndarray  # (K, 4) x1y1x2y2 in image pixels
    labels: list[str] = field(default_factory=list)


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return [restore_row(r) for r in csv.DictReader(fh)]
    except OSError as e:
        raise FeedError(f"cannot read {path}: {e}") from e


def read_detection_set(
    images_csv: Path,
    boxes_csv: Path,
    label_column: str,
    classes: Sequence[str],
) -> list[DetectionItem]:
    """Annotated images with their boxes mapped to ``classes`` (images matched by resolved path)."""
    items: dict[Path, DetectionItem] = {}
    for row in _read_csv(images_csv):
        if "image_path" not in row:
            raise FeedError(f"{images_csv}: needs an 'image_path' column")
        if str(row.get("annotated", "1")).strip() not in {"1", "true", "True", "yes"}:
            continue
        path = (images_csv.parent / row["image_path"]).resolve()
        items.setdefault(path, DetectionItem(path, np.zeros((0, 4))))
    dropped: Counter[str] = Counter()
    grouped: dict[Path, list[tuple[str, list[float]]]] = {}
    for row in _read_csv(boxes_csv):
        for column in (label_column, "image_path"):
            if column not in row:
                raise FeedError(f"{boxes_csv}: no column {column!r}")
        path = (boxes_csv.parent / row["image_path"]).resolve()
        if path not in items:
            continue
        label = map_label(row[label_column], classes)
        if label is None:
            dropped[row[label_column]] += 1
            continue
        try:
            coords = [float(row[k]) for k in ("x1", "y1", "x2", "y2")]
        except (KeyError, ValueError, TypeError) as e:  # TypeError: a short row (None)
            raise FeedError(f"{boxes_csv}: bad box for {row['image_path']}: {e}") from e
        grouped.setdefault(path, []).append((label, coords))
    for path, rows in grouped.items():
        items[path].labels = [r[0] for r in rows]
        items[path].boxes = np.asarray([r[1] for r in rows], dtype=np.float64)
    if dropped:
        log.info("labels not scored (no class): %s", dict(dropped))
    return list(items.values())


def read_tag_set(
    images_csv: Path, tags_csv: Path, classes: Sequence[str]
) -> tuple[list[Path], np.ndarray]:
    """Unannotated images (``annotated`` 0) and how many of their image-level tags name each
    of ``classes``.

    ``tags.csv`` has ``image_id`` (matched to ``images.csv``'s) and ``tag``; an image without a
    tag of a kept class still counts: it says those classes are absent. Two tags of one class
    (sunglasses and a belt: two accessories) count two; a tag repeated counts once.

    Returns:
        The image paths and a (N, len(classes)) matrix of tag counts (0: absent).
    """
    paths: dict[str, Path] = {}
    for row in _read_csv(images_csv):
        if not {"image_id", "image_path"} <= row.keys():
            raise FeedError(f"{images_csv}: needs 'image_id' and 'image_path' columns")
        if str(row.get("annotated", "1")).strip() in {"0", "false", "False", "no"}:
            paths[row["image_id"]] = (images_csv.parent / row["image_path"]).resolve()
    column = {c: i for i, c in enumerate(classes)}
    present: dict[str, np.ndarray] = {}  # filled in tag order; an image nobody tagged says nothing
    seen: set[tuple[str, str]] = set()
    for row in _read_csv(tags_csv):
        if not {"image_id", "tag"} <= row.keys():
            raise FeedError(f"{tags_csv}: needs 'image_id' and 'tag' columns")
        if row["image_id"] not in paths:
            continue
        flags = present.setdefault(row["image_id"], np.zeros(len(classes), np.float32))
        label = map_label(row["tag"], classes)
        tag = (row["image_id"], row["tag"].strip().lower())
        if label is not None and tag not in seen:
            seen.add(tag)
            flags[column[label]] += 1.0
    keys = [k for k in paths if k in present]
    matrix = np.stack([present[k] for k in keys]) if keys else np.zeros((0, len(classes)))
    return [paths[k] for k in keys], matrix.astype(np.float32)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point interpolated AP: area under the monotone precision envelope."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def evaluate_detections(
    predictions: Sequence[Sequence[Garment]],
    truths: Sequence[DetectionItem],
    classes: Sequence[str],
    iou: float = 0.5,
    operating_threshold: float = 0.3,
) -> dict[str, Any]:
    """``map50`` over classes present, ``recall50`` (all predictions), ``per_class`` AP50.

    Each prediction is matched to the best-overlapping unmatched true box of its class at
    ``iou``, in descending score order over the whole set (Pascal VOC protocol).
    """
    per_class: dict[str, dict[str, float]] = {}
    matched_total = n_true_total = 0
    op_tp = op_pred = 0
    for cls in classes:
        gts = [it.boxes[[lab == cls for lab in it.labels]] for it in truths]
        n_true = int(sum(len(g) for g in gts))
        dets = [
            (g.confidence, i, g.box)
            for i, preds in enumerate(predictions)
            for g in preds
            if g.label == cls
        ]
        dets.sort(key=lambda d: -d[0])
        used = [np.zeros(len(g), dtype=bool) for g in gts]
        tp = np.zeros(len(dets))
        for j, (score, i, box) in enumerate(dets):
            if not len(gts[i]):
                continue
            ious = np.array([box.iou(Box(*b)) for b in gts[i]])
            ious[used[i]] = -1.0
            best = int(ious.argmax())
            if ious[best] >= iou:
                tp[j], used[i][best] = 1, True
            if score >= operating_threshold:
                op_tp += int(tp[j])
        op_pred += sum(1 for d in dets if d[0] >= operating_threshold)
        matched_total += int(tp.sum())
        n_true_total += n_true
        if n_true == 0:
            per_class[cls] = {"ap50": float("nan"), "n_true": 0, "n_pred": len(dets)}
            continue
        ctp = np.cumsum(tp)
        recall = ctp / n_true
        precision = ctp / np.arange(1, len(dets) + 1) if dets else np.zeros(0)
        per_class[cls] = {
            "ap50": average_precision(recall, precision),
            "recall50": float(recall[-1]) if dets else 0.0,
            "n_true": n_true,
            "n_pred": len(dets),
        }
    present = [c for c in classes if per_class[c]["n_true"] > 0]
    return {
        "map50": float(np.mean([per_class[c]["ap50"] for c in present])) if present else 0.0,
        "recall50": matched_total / n_true_total if n_true_total else 0.0,
        "per_class": {c: per_class[c]["ap50"] for c in present},
        "per_class_detail": per_class,
        "classes_present": present,
        "n_images": len(truths),
        "n_true": n_true_total,
        "operating_point": {
            "threshold": operating_threshold,
            "precision50": op_tp / op_pred if op_pred else 0.0,
            "recall50": op_tp / n_true_total if n_true_total else 0.0,
        },
    }


def draw_grid(
    images: Sequence[Any],
    predictions: Sequence[Sequence[Garment]],
    truths: Sequence[DetectionItem],
    path: Path,
    *,
    min_score: float = 0.3,
    tile_height: int = 320,
    columns: int = 6,
) -> Path:
    """True boxes (green) and predictions above ``min_score`` (red) for each image, in a grid."""
    from PIL import Image, ImageDraw

    tiles = []
    for im, preds, item in zip(images, predictions, truths, strict=True):
        scale = tile_height / im.height
        tile = im.convert("RGB").resize((max(1, round(im.width * scale)), tile_height))
        draw = ImageDraw.Draw(tile)
        for box, label in zip(item.boxes, item.labels, strict=True):
            xy = [float(v) * scale for v in box]
            draw.rectangle(xy, outline=(0, 200, 0), width=2)
            draw.text((xy[0] + 2, xy[3] - 11), label, fill=(0, 160, 0))
        for g in preds:
            if g.confidence < min_score:
                continue
            xy = [g.box.x1 * scale, g.box.y1 * scale, g.box.x2 * scale, g.box.y2 * scale]
            draw.rectangle(xy, outline=(230, 30, 30), width=2)
            draw.text((xy[0] + 2, xy[1] + 1), f"{g.label} {g.confidence:.2f}", fill=(230, 30, 30))
        tiles.append(tile)
    if not tiles:
        tiles = [Image.new("RGB", (tile_height // 2, tile_height), "white")]
    width = max(t.width for t in tiles)
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (width * min(columns, len(tiles)), tile_height * rows), "white")
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * width, (k // columns) * tile_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def run_detection_eval(
    predict: Callable[[Sequence[Any]], list[list[Garment]]],
    items: Sequence[DetectionItem],
    classes: Sequence[str],
    *,
    load: Callable[[Path], Any],
    batch_size: int = 8,
    sample: int = 12,
    png_path: Path | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predict every item in batches, score, and draw the first ``sample`` images."""
    predictions: list[list[Garment]] = []
    shown: list[Any] = []
    for start in range(0, len(items), batch_size):
        chunk = [load(it.path) for it in items[start : start + batch_size]]
        predictions.extend(predict(chunk))
        shown.extend(chunk[: max(0, sample - len(shown))])
        if on_batch:
            on_batch(len(chunk))
    report = evaluate_detections(predictions, items, classes)
    if png_path is not None and sample > 0:
        draw_grid(shown, predictions[: len(shown)], items[: len(shown)], png_path)
        report["sample_png"] = str(png_path)
    return report
