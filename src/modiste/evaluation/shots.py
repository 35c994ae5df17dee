"""Shot-type evaluation: per-image classification and per-product gallery order.

Used by ``modiste eval shots`` (the shipped or user model on any gallery CSV) and by ``modiste
train shots --cv`` (out-of-fold predictions), so both report the same figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from modiste.evaluation.metrics import classification_report


def order_report(
    product_ids: Sequence[str],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    regulation: Any,
    categories: Sequence[str | None] | None = None,
    confidences: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Order exact match and mean Kendall tau over products with at least two images."""
    from modiste.gallery.metrics import order_metrics

    by_product: dict[str, list[int]] = defaultdict(list)
    for i, pid in enumerate(product_ids):
        by_product[pid].append(i)
    exact, taus = [], []
    for idx in by_product.values():
        if len(idx) < 2:
            continue
        cat = categories[idx[0]] if categories is not None else None
        conf = [confidences[i] for i in idx] if confidences is not None else None
        ok, tau = order_metrics(
            [y_true[i] for i in idx],
            [y_pred[i] for i in idx],
            regulation,
            cat or None,
            predicted_confidences=conf,
        )
        exact.append(ok)
        if not math.isnan(tau):
            taus.append(tau)
    return {
        "order_exact_match": float(np.mean(exact)) if exact else None,
        "kendall_tau": float(np.mean(taus)) if taus else None,
        "n_products": len(by_product),
        "n_products_ordered": len(exact),
        "regulation": getattr(regulation, "name", None),
    }


def shot_report(
    product_ids: Sequence[str],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    regulation: Any,
    categories: Sequence[str | None] | None = None,
    confidences: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The full JSON report: classification block, order block, and unknown rate."""
    rep = classification_report(y_true, y_pred, labels)
    rep.update(order_report(product_ids, y_true, y_pred, regulation, categories, confidences))
    rep["unknown_rate"] = float(np.mean([p == "unknown" for p in y_pred])) if y_pred else 0.0
    return rep
