"""``learn`` on a known class must not forget what the head knew (issue #12), on synthetic rows."""

from __future__ import annotations

import numpy as np

from modiste.gallery.classifier import _refit
from modiste.models.head_refit import refit_toward
from modiste.models.heads import LinearHead
from modiste.models.shot_head import FeatureSpec, fit_head

SPEC = FeatureSpec(cues=False)
LABELS = ["a", "b", "c"]


def _data(rng: np.random.Generator, n: int, centres: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Noisy classes in 64-D: easy with many rows, easy to overfit with a few."""
    y = rng.integers(0, len(centres), n)
    return (centres[y] + rng.normal(0, 1.0, (n, centres.shape[1]))).astype(np.float32), [
        LABELS[i] for i in y
    ]


def _shipped(seed: int = 0) -> tuple[LinearHead, np.ndarray, np.ndarray, list[str]]:
    """A head fitted on 3,000 rows that keeps only 4 rows a class as its memory, plus a test set."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.35, (3, 64))
    x, y = _data(rng, 3000, centres)
    head = fit_head(x, y, LABELS, c=1.0)
    keep = np.concatenate([np.flatnonzero(np.asarray(y) == lab)[:4] for lab in LABELS])
    head.memory_x, head.memory_y = x[keep], np.asarray(y)[keep]
    xt, yt = _data(rng, 600, centres)
    return head, centres, xt, yt


def _recall(head: LinearHead, x: np.ndarray, y: list[str], label: str) -> float:
    pred = np.asarray(head.labels)[head.proba(x).argmax(1)]
    mask = np.asarray(y) == label
    return float((pred[mask] == label).mean())


def test_one_taught_photo_of_a_known_class_does_not_lower_its_recall() -> None:
    head, centres, xt, yt = _shipped()
    before = _recall(head, xt, yt, "a")
    photo = (centres[0] + np.random.default_rng(9).normal(0, 1.0, (1, 64))).astype(np.float32)
    after = _refit(head, photo, photo, ["a"], 1.0, SPEC)
    assert after.labels == LABELS
    assert _recall(after, xt, yt, "a") >= before - 0.02
    # The head as a whole keeps what it knew (a refit from the 12 memory rows alone does not).
    pred = lambda h: np.asarray(h.labels)[h.proba(xt).argmax(1)]  # noqa: E731
    assert (pred(after) == pred(head)).mean() >= 0.9
    assert after.memory_x is not None and head.memory_x is not None
    assert len(after.memory_x) == len(head.memory_x) + 1


def test_a_new_class_is_still_learnt_from_a_few_photos() -> None:
    head, _, _, _ = _shipped()
    rng = np.random.default_rng(3)
    centre = rng.normal(0, 0.35, 64) + 2.0
    photos = (centre + rng.normal(0, 1.0, (3, 64))).astype(np.float32)
    after = _refit(head, photos, photos, ["d"] * 3, 1.0, SPEC)
    assert after.labels == [*LABELS, "d"]
    test = (centre + rng.normal(0, 1.0, (50, 64))).astype(np.float32)
    assert (after.proba(test).argmax(1) == 3).mean() >= 0.9


def test_refit_on_the_memory_alone_stays_at_the_prior() -> None:
    head, _, xt, _ = _shipped()
    assert head.memory_x is not None and head.memory_y is not None
    same = refit_toward(head, head.memory_x, list(head.memory_y), LABELS, c=1.0)
    assert (same.proba(xt).argmax(1) == head.proba(xt).argmax(1)).mean() >= 0.95
    assert same.temperature == head.temperature
    np.testing.assert_array_equal(same.mean, head.mean)
