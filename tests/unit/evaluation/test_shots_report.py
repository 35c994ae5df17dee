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


def test_classes_the_model_lacks_are_marked_not_scored_zero() -> None:
    reg = load_regulation()
    pids = ["p1", "p1", "p2", "p2"]
    true = ["near_front", "wash_tag", "near_front", "material"]
    pred = ["near_front", "near_zoom", "near_front", "near_zoom"]
    rep = shot_report(pids, true, pred, reg, model_labels=["near_front", "near_zoom"])
    assert rep["classes_not_in_model"] == ["material", "wash_tag"]
    assert rep["n_images_not_in_model"] == 2
    assert rep["per_class"]["wash_tag"] == {
        "status": "not in model",
        "precision": None,
        "recall": None,
        "f1": None,
        "support": 1,
        "predicted_as": {"near_zoom": 1},
    }
    assert rep["per_class"]["near_front"]["status"] == "in model"
    assert rep["accuracy"] == 0.5 and rep["accuracy_in_model"] == 1.0
    assert rep["macro_f1_in_model"] == 1.0


def test_without_model_labels_the_report_is_unchanged() -> None:
    rep = shot_report(["p"], ["wash_tag"], ["near_zoom"], load_regulation())
    assert "classes_not_in_model" not in rep and rep["per_class"]["wash_tag"]["recall"] == 0.0
