"""Shot-type evaluation: per-image classification and per-product gallery order.

Used by ``modiste eval shots`` (the shipped or user model on any gallery CSV) and by ``modiste
train shots --cv`` (out-of-fold predictions), so both report the same figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from modiste.evaluation.metrics import accuracy, classification_report, macro_f1

NOT_IN_MODEL = "not in model"


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
    model_labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The full JSON report: classification block, order block, and unknown rate.

    With ``model_labels`` (the classes the evaluated model can predict), a true class the model
    lacks is marked ``"not in model"`` in ``per_class`` (recall, precision and F1 null, with what
    its photos were taken for) instead of scoring a silent 0, and ``accuracy_in_model`` /
    ``macro_f1_in_model`` score only the images of classes the model has.
    """
    rep = classification_report(y_true, y_pred, labels)
    rep.update(order_report(product_ids, y_true, y_pred, regulation, categories, confidences))
    rep["unknown_rate"] = float(np.mean([p == "unknown" for p in y_pred])) if y_pred else 0.0
    if model_labels is not None:
        rep.update(_model_coverage(y_true, y_pred, set(model_labels), rep["per_class"]))
    return rep


def _model_coverage(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    known: set[str],
    per_class: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Mark the classes the model cannot predict, and score the rest on their own."""
    missing = sorted(set(y_true) - known)
    for lab in missing:
        taken_for = Counter(p for t, p in zip(y_true, y_pred, strict=True) if t == lab)
        per_class[lab] = {
            "status": NOT_IN_MODEL,
            "precision": None,
            "recall": None,
            "f1": None,
            "support": per_class[lab]["support"],
            "predicted_as": dict(taken_for.most_common()),
        }
    for lab in set(per_class) - set(missing):
        per_class[lab]["status"] = "in model"
    keep = [i for i, t in enumerate(y_true) if t in known]
    t_in = [y_true[i] for i in keep]
    p_in = [y_pred[i] for i in keep]
    return {
        "model_labels": sorted(known),
        "classes_not_in_model": missing,
        "n_images_not_in_model": len(y_true) - len(keep),
        "accuracy_in_model": accuracy(t_in, p_in) if keep else None,
        "macro_f1_in_model": macro_f1(t_in, p_in) if keep else None,
    }
