from __future__ import annotations

import math
from itertools import permutations

import pytest
from scipy.stats import kendalltau

from modiste.gallery.metrics import _kendall_tau_of_permutation, order_for_labels, order_metrics
from modiste.gallery.regulation import load_regulation, resolve_regulation


@pytest.fixture(scope="module")
def default():  # type: ignore[no-untyped-def]
    return load_regulation()


def test_order_for_labels(default) -> None:  # type: ignore[no-untyped-def]
    assert order_for_labels(["wash_tag", "near_back", "near_front"], default) == [2, 1, 0]
    # packshot leads only without a model shot; the bags override pins it first
    assert order_for_labels(["wash_tag", "packshot"], default) == [1, 0]
    assert order_for_labels(["packshot", "near_front"], default) == [1, 0]
    assert order_for_labels(["near_front", "packshot"], default, "Gear/Bags") == [1, 0]


def test_order_for_labels_ranks_every_image_by_default() -> None:
    strict = resolve_regulation("marketplace-strict")
    labels = ["size_chart", "near_front", *["near_back"] * 8]
    assert len(order_for_labels(labels, strict)) == 10
    assert len(order_for_labels(labels, strict, apply_limits=True)) == 8


def test_perfect_prediction(default) -> None:  # type: ignore[no-untyped-def]
    labels = ["wash_tag", "near_back", "near_front", "hem"]
    assert order_metrics(labels, labels, default) == (True, 1.0)


def test_ties_among_same_true_label_are_interchangeable(default) -> None:  # type: ignore[no-untyped-def]
    # Two near_front images: the prediction swaps which one counts as "near_front" and which is
    # mistaken for far_front, so they come out swapped relative to the reference; still exact.
    true = ["near_front", "near_front", "wash_tag"]
    pred = ["near_front", "far_front", "wash_tag"]
    assert order_for_labels(pred, default) == [1, 0, 2]
    assert order_metrics(true, pred, default) == (True, 1.0)


def test_reversed_prediction_gives_minus_one(default) -> None:  # type: ignore[no-untyped-def]
    true = ["far_front", "near_front", "near_back", "wash_tag"]
    pred = ["wash_tag", "near_back", "near_front", "far_front"]
    exact, tau = order_metrics(true, pred, default)
    assert exact is False and tau == -1.0


def test_one_swap(default) -> None:  # type: ignore[no-untyped-def]
    true = ["near_front", "near_back", "wash_tag"]
    pred = ["near_back", "near_front", "wash_tag"]  # first two swapped: 1 discordant of 3 pairs
    exact, tau = order_metrics(true, pred, default)
    assert exact is False and tau == pytest.approx(1 / 3)


def test_wrong_label_that_keeps_the_order_is_still_exact(default) -> None:  # type: ignore[no-untyped-def]
    assert order_metrics(["near_front", "hem"], ["far_front", "collar"], default) == (True, 1.0)


def test_predicted_confidences_break_ties(default) -> None:  # type: ignore[no-untyped-def]
    true = ["near_back", "near_front"]
    pred = ["near_front", "near_front"]
    assert order_metrics(true, pred, default, predicted_confidences=[0.9, 0.8])[0] is False
    assert order_metrics(true, pred, default, predicted_confidences=[0.8, 0.9])[0] is True


def test_single_image_and_length_mismatch(default) -> None:  # type: ignore[no-untyped-def]
    exact, tau = order_metrics(["hem"], ["collar"], default)
    assert exact is True and math.isnan(tau)
    with pytest.raises(ValueError):
        order_metrics(["hem"], ["hem", "hem"], default)


def test_tau_matches_scipy_on_all_permutations_of_five() -> None:
    for perm in permutations(range(5)):
        expected = kendalltau(range(5), perm).statistic
        assert _kendall_tau_of_permutation(perm) == pytest.approx(expected)
