"""The shipped taxonomy and regulations against the real Luma galleries (CSV only, no pixels)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from modiste.gallery import GalleryItem, load_regulation, load_taxonomy, order_gallery
from modiste.gallery.metrics import order_metrics

pytestmark = pytest.mark.realdata


def galleries(datasets_dir: Path) -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (datasets_dir / "magento_luma" / "gallery.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            rows[row["product_id"]].append(row)
    return rows


def test_luma_labels_are_taxonomy_classes_and_galleries_order(datasets_dir: Path) -> None:
    taxonomy = load_taxonomy()
    regulation = load_regulation()
    products = galleries(datasets_dir)
    assert len(products) > 100
    for rows in products.values():
        assert all(r["shot"] in taxonomy for r in rows)
        items = [GalleryItem(r["image_path"], r["shot"], 1.0, i) for i, r in enumerate(rows)]
        g = order_gallery(items, regulation, rows[0]["category"])
        assert sorted(g.keys) == sorted(r["image_path"] for r in rows)
        labels = [o.item.label for o in g.items]
        if "packshot" in labels:  # Luma's packshots are bags: they must lead
            assert labels[0] == "packshot"
        elif "near_front" in labels:
            assert labels.index("near_front") <= labels.index(labels[-1])
            assert labels[0] in {"far_front", "near_front"}
        # the true labels read as predictions always match themselves
        if len(rows) > 1:
            true = [r["shot"] for r in rows]
            assert order_metrics(true, true, regulation, rows[0]["category"]) == (True, 1.0)
