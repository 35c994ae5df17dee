from __future__ import annotations

import json
from pathlib import Path

import pytest

from modiste.evaluation.metrics import (
    accuracy,
    classification_report,
    confusion,
    kendall_tau,
    macro_f1,
    per_class,
)
from modiste.evaluation.report import write_report


def test_accuracy_and_macro_f1() -> None:
    t = ["a", "a", "b", "c"]
    p = ["a", "b", "b", "c"]
    assert accuracy(t, p) == 0.75
    pc = per_class(t, p)
    assert pc["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert macro_f1(t, p) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert accuracy([], []) == 0.0


def test_confusion_keeps_unknown_column() -> None:
    labels, m = confusion(["a", "b"], ["a", "unknown"], ["a", "b"])
    assert labels == ["a", "b", "unknown"]
    assert m.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_kendall_tau_matches_scipy() -> None:
    from scipy.stats import kendalltau

    a, b = [1, 2, 3, 4, 5], [2, 1, 3, 5, 4]
    assert kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic)
    a2, b2 = [1, 1, 2, 3], [1, 2, 2, 3]
    assert kendall_tau(a2, b2) == pytest.approx(kendalltau(a2, b2).statistic)
    assert kendall_tau([1], [1]) == 1.0


def test_report_writes_json_and_png(tmp_path: Path) -> None:
    rep = classification_report(["a", "b", "b"], ["a", "b", "a"])
    js, png = write_report(rep, tmp_path / "r.json", "t")
    assert json.loads(js.read_text())["confusion"]["labels"] == ["a", "b"]
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reports_are_strict_json_and_a_bad_path_is_a_clear_error(tmp_path: Path) -> None:
    import numpy as np

    from modiste.errors import ModisteError
    from modiste.evaluation.report import write_json

    path = write_json({"ap50": float("nan"), "per_class": {"bag": np.float32("inf"), "top": 0.5}},
                      tmp_path / "r.json")  # fmt: skip
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c)) == {
        "ap50": None, "per_class": {"bag": None, "top": 0.5}
    }  # fmt: skip
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ModisteError, match=r"afile/r\.json: cannot write"):
        write_json({}, tmp_path / "afile" / "r.json")
