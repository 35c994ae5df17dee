"""How well a predicted gallery order matches the regulation's order of the true labels.

The question evaluation asks is not "is every label right" but "would the shopper see the same
gallery": so the predicted order is read through the TRUE labels, and two images of the same
true label are interchangeable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.regulation import Regulation


def order_for_labels(
    labels: Sequence[str],
    regulation: Regulation,
    category: str | None = None,
    *,
    confidences: Sequence[float] | None = None,
    apply_limits: bool = False,
) -> list[int]:
    """Indices of ``labels`` in the regulation's order (ties by original position).

    Exclusions and ``max_images`` are off by default, so every image is ranked and two orders
    of one product can be compared image for image.
    """
    confs = list(confidences) if confidences is not None else [1.0] * len(labels)
    if len(confs) != len(labels):
        raise ValueError("labels and confidences differ in length")
    items = [
        GalleryItem(str(i), lab, c, i) for i, (lab, c) in enumerate(zip(labels, confs, strict=True))
    ]
    return order_gallery(items, regulation, category, apply_limits=apply_limits).positions


def order_metrics(
    true_labels: Sequence[str],
    predicted_labels: Sequence[str],
    regulation: Regulation,
    category: str | None = None,
    *,
    predicted_confidences: Sequence[float] | None = None,
) -> tuple[bool, float]:
    """``(exact_match, kendall_tau)`` of the predicted order against the reference order.

    The reference is the regulation applied to the true labels. Exact match: the sequence of true
    labels along the predicted order equals the reference sequence. Kendall tau: the images of one
    true label fill that label's reference slots in the order they appear in the prediction (the
    most favourable reading of interchangeable ties), so tau is 1.0 exactly when the match is
    exact. Tau is NaN for fewer than two images (callers skip those products).
    """
    if len(true_labels) != len(predicted_labels):
        raise ValueError("true_labels and predicted_labels differ in length")
    reference = order_for_labels(true_labels, regulation, category)
    predicted = order_for_labels(
        predicted_labels, regulation, category, confidences=predicted_confidences
    )
    exact = [true_labels[i] for i in predicted] == [true_labels[i] for i in reference]
    n = len(true_labels)
    if n < 2:
        return exact, float("nan")
    slots: dict[str, list[int]] = defaultdict(list)
    for ref_rank, i in enumerate(reference):
        slots[true_labels[i]].append(ref_rank)
    used: dict[str, int] = defaultdict(int)
    ref_rank_along_prediction = []
    for i in predicted:
        label = true_labels[i]
        ref_rank_along_prediction.append(slots[label][used[label]])
        used[label] += 1
    return exact, _kendall_tau_of_permutation(ref_rank_along_prediction)


def _kendall_tau_of_permutation(ranks: Sequence[int]) -> float:
    """Tau between positions 0..n-1 and ``ranks`` (distinct): (concordant - discordant) / pairs.

    O(n²), which is nothing for a gallery; equals ``scipy.stats.kendalltau`` when there are no ties.
    """
    n = len(ranks)
    score = 0
    for a in range(n):
        for b in range(a + 1, n):
            score += 1 if ranks[a] < ranks[b] else -1
    return score / (n * (n - 1) / 2)
