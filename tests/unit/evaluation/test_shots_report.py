from __future__ import annotations

from modiste.evaluation.shots import shot_report
from modiste.gallery.regulation import load_regulation


def test_order_metrics_per_product() -> None:
    reg = load_regulation()
    pids = ["p1", "p1", "p1", "p2", "p2", "p3"]
    true = ["near_back", "near_front", "near_zoom", "near_front", "near_back", "packshot"]
    # p1 right; p2 swapped front/back (wrong order); p3 has one image (not ordered)
    pred = ["near_back", "near_front", "near_zoom", "near_back", "near_front", "packshot"]
    rep = shot_report(pids, true, pred, reg)
    assert rep["n_products"] == 3 and rep["n_products_ordered"] == 2
    assert rep["order_exact_match"] == 0.5
    assert rep["kendall_tau"] == 0.0  # (1 + -1) / 2
    assert rep["n_images"] == 6 and rep["unknown_rate"] == 0.0
