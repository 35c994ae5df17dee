"""Retrieval evaluation: same-item (catalog) and cross-domain (street photo → catalog) protocols.

Same-item: a CSV with ``product_id, image_path``; every image whose product has another image is
a query, the gallery is every other image, relevant = same product. Reports recall@k (a relevant
image in the top k) and mAP.

Cross-domain: queries ``image_path, label`` (optionally ``x1,y1,x2,y2``: the query is that crop)
against a gallery ``image_path, label``; reports precision@10 (share of the top 10 with the
query's label), macro-averaged over labels, and per label.

Vectors are expected L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modiste.domain import Box
from modiste.errors import ConfigError
from modiste.exports import restore_row

RECALL_KS = (1, 5, 10, 20)


@dataclass(frozen=True, slots=True)
class Item:
    """One row of an evaluation CSV, with its path resolved against the CSV's folder."""

    path: Path
    label: str  # product id (same-item) or category (cross-domain)
    box: Box | None = None
    group: str = ""  # style id, sender id...: what a leak-free split is grouped by


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [restore_row(r) for r in csv.DictReader(f)]
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from e


def load_items(path: Path, label_column: str = "product_id") -> list[Item]:
    """Rows of a retrieval CSV; paths are relative to the CSV's folder.

    Raises:
        ConfigError: The file is unreadable or lacks ``image_path`` / ``label_column``.
    """
    rows = _read_rows(path)
    if not rows:
        raise ConfigError(f"{path}: no rows")
    if "image_path" not in rows[0] or label_column not in rows[0]:
        raise ConfigError(f"{path}: needs columns image_path and {label_column}")
    items = []
    for line, row in enumerate(rows, start=2):
        box = None
        if all(row.get(c) not in (None, "") for c in ("x1", "y1", "x2", "y2")):
            try:
                box = Box(*(float(row[c]) for c in ("x1", "y1", "x2", "y2")))
            except ValueError as e:
                raise ConfigError(f"{path} line {line}: bad box ({e})") from e
        group = row.get("style_id") or row.get("sender_id") or row.get("group") or ""
        items.append(Item(path.parent / row["image_path"], row[label_column], box, group))
    return items


def _similarity(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    return np.asarray(queries, dtype=np.float32) @ np.asarray(gallery, dtype=np.float32).T


def same_item_metrics(
    vectors: np.ndarray,
    labels: Sequence[str],
    ks: Sequence[int] = RECALL_KS,
    queries: np.ndarray | None = None,
    query_mask: np.ndarray | None = None,
) -> dict[str, Any]:
    """Leave-one-out same-item retrieval over one set of images.

    Args:
        vectors: The gallery (catalog vectors), one per image.
        labels: Product of each image.
        ks: Cut-offs of recall@k.
        queries: The same images embedded as queries, when a query's vector differs from the
            catalog's (query-side weights); default ``vectors``.
        query_mask: Which images are queries (default all); every image stays in the gallery,
            so products that are not scored still compete as distractors, as in a catalog.

    Returns:
        ``recall_at_{k}`` for each k, ``map`` and ``n_queries``.
    """
    sims = _similarity(vectors if queries is None else queries, vectors)
    return _ranked(sims, labels, ks, query_mask)


def same_item_scores_metrics(
    sims: np.ndarray,
    labels: Sequence[str],
    ks: Sequence[int] = RECALL_KS,
    query_mask: np.ndarray | None = None,
) -> dict[str, Any]:
    """:func:`same_item_metrics` from an image x image score matrix, for scores that are not one
    dot product (the best over several vectors per image); ``sims`` is left as it is."""
    return _ranked(np.array(sims), labels, ks, query_mask)


def _ranked(
    sims: np.ndarray, labels: Sequence[str], ks: Sequence[int], query_mask: np.ndarray | None
) -> dict[str, Any]:
    """Leave-one-out ranking of ``sims`` (overwritten: its diagonal leaves every ranking)."""
    labs = np.asarray(labels)
    n = len(labs)
    np.fill_diagonal(sims, -np.inf)
    hits = {k: 0 for k in ks}
    aps: list[float] = []
    for i in range(n) if query_mask is None else np.flatnonzero(query_mask):
        relevant = labs == labs[i]
        relevant[i] = False
        n_rel = int(relevant.sum())
        if n_rel == 0:
            continue
        order = np.argsort(-sims[i], kind="stable")[: n - 1]
        rel_sorted = relevant[order]
        for k in ks:
            hits[k] += bool(rel_sorted[:k].any())
        ranks = np.flatnonzero(rel_sorted) + 1
        aps.append(float(np.mean(np.arange(1, ranks.size + 1) / ranks)))
    nq = len(aps)
    out: dict[str, Any] = {f"recall_at_{k}": (hits[k] / nq if nq else 0.0) for k in ks}
    out["map"] = float(np.mean(aps)) if aps else 0.0
    out["n_queries"] = nq
    return out


def crossdomain_metrics(
    queries: np.ndarray,
    query_labels: Sequence[str],
    gallery: np.ndarray,
    gallery_labels: Sequence[str],
    k: int = 10,
) -> dict[str, Any]:
    """Category precision@k of queries against a separate gallery, macro over query labels."""
    ql, gl = np.asarray(query_labels), np.asarray(gallery_labels)
    sims = _similarity(queries, gallery)
    kk = min(k, len(gl))
    top = np.argsort(-sims, axis=1, kind="stable")[:, :kk] if len(gl) else np.zeros((len(ql), 0))
    prec = (gl[top] == ql[:, None]).mean(axis=1) if kk else np.zeros(len(ql))
    per_label = {
        str(lab): {
            "precision_at_10": float(prec[ql == lab].mean()),
            "n_queries": int((ql == lab).sum()),
        }
        for lab in sorted(set(ql.tolist()))
    }
    macro = float(np.mean([v["precision_at_10"] for v in per_label.values()])) if per_label else 0.0
    return {
        "precision_at_10": macro,
        "micro_precision_at_10": float(prec.mean()) if len(prec) else 0.0,
        "per_label": per_label,
        "n_queries": len(ql),
        "n_gallery": len(gl),
    }


def grouped_split(
    groups: Sequence[str], test_share: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train/test masks with every group wholly on one side (no leakage by style)."""
    uniq = sorted(set(groups))
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    n_test = round(len(uniq) * test_share)
    test_groups = set(uniq[:n_test])
    test = np.asarray([g in test_groups for g in groups])
    return ~test, test


# --- running an embedder over evaluation items ------------------------------------------------


def load_item_images(
    items: Sequence[Item], margin: float = 0.1, draft_size: int = 512, mirror: bool = False
) -> list[Any]:
    """Decode each item (safely) and cut its box, padded like search crops, when it has one.

    ``margin`` and ``mirror`` (flip left-right) make other views of a crop for training.
    """
    from PIL import Image

    from modiste.imaging import decode_image
    from modiste.search.crops import pad_box

    out = []
    for it in items:
        image = decode_image(it.path, draft_size=draft_size).image
        if it.box is not None:
            b = pad_box(it.box, image.width, image.height, margin)
            if b.width >= 4 and b.height >= 4:
                image = image.crop((round(b.x1), round(b.y1), round(b.x2), round(b.y2)))
        out.append(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirror else image)
    return out


def embed_items(
    embed: Any,
    items: Sequence[Item],
    batch: int = 32,
    advance: Any = None,
    margin: float = 0.1,
    mirror: bool = False,
) -> np.ndarray:
    """Vectors for ``items`` in batches (``embed``: images → (N, D)); ``advance(n)`` reports."""
    parts = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        images = load_item_images(chunk, margin, mirror=mirror)
        parts.append(np.asarray(embed(images), dtype=np.float32))
        if advance is not None:
            advance(len(chunk))
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
