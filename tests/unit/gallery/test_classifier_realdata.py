from __future__ import annotations

import csv
from pathlib import Path

import pytest

from modiste.config import Settings
from modiste.gallery.classifier import create_shot_classifier, shipped_head_path


@pytest.mark.realdata
def test_shipped_head_on_a_few_real_magento_photos(datasets_dir: Path, tmp_path: Path) -> None:
    """Sanity check of the committed head on a fresh data dir (its held-out figures are in the CV
    report; these photos were part of its training data)."""
    assert shipped_head_path("mobilenet_v2").stat().st_size < 5_000_000
    gallery = datasets_dir / "magento_luma" / "gallery.csv"
    with gallery.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["shot"] in {"near_front", "near_back"}][:6]
    clf = create_shot_classifier(Settings(data_dir=tmp_path / "fresh"), runtime="torch")
    preds = clf.predict_paths([gallery.parent / r["image_path"] for r in rows])
    assert sum(p.label == r["shot"] for p, r in zip(preds, rows, strict=True)) >= 5
    assert all(0.0 <= p.confidence <= 1.0 and p.source == "model" for p in preds)
