"""The shipped detector head on real street photos it never trained on (skipped without data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modiste.config import Settings
from modiste.evaluation.detection import read_detection_set, run_detection_eval
from modiste.imaging import decode_image
from modiste.models.detector import create_detector

REPO = Path(__file__).resolve().parents[3]
HOLDOUT = REPO / "benchmarks" / "data" / "ccp_detector_holdout.csv"


@pytest.mark.realdata
@pytest.mark.slow
def test_shipped_head_finds_garments_on_held_out_photos(
    datasets_dir: Path, settings: Settings
) -> None:
    det = create_detector(settings, "default", min_score=0.01)  # fresh data dir: packaged head
    items = read_detection_set(
        HOLDOUT, datasets_dir / "ccp_street" / "boxes.csv", "label", det.classes
    )[:24]
    assert len(items) == 24
    report = run_detection_eval(
        det.predict, items, det.classes, load=lambda p: decode_image(p).image, sample=0
    )
    # Big, always-present classes must be found on most photos; the full figure is in
    # benchmarks/results/detector_ccp.json (all held-out images).
    assert report["per_class"]["footwear"] > 0.5
    assert report["map50"] > 0.3
