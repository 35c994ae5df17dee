"""Generic classification and ranking metrics, dependency-light (NumPy only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Share of exact matches (0.0 for empty input)."""
    if not y_true:
        return 0.0
    return float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)]))


def confusion(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Confusion matrix (rows = true, columns = predicted) over ``labels``.

    Labels default to every label seen in either sequence, sorted; predictions outside the given
    labels (e.g. ``unknown``) get their own column so nothing is silently dropped.
    """
    labs = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    for extra in sorted(set(y_pred) - set(labs)):
        labs.append(extra)
    idx = {lab: i for i, lab in enumerate(labs)}
    m = np.zeros((len(labs), len(labs)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in idx:
            m[idx[t], idx[p]] += 1
    return labs, m


def per_class(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for each true label."""
    out: dict[str, dict[str, float]] = {}
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    for lab in sorted(set(y_true)):
        tp = float(np.sum((yt == lab) & (yp == lab)))
        n_pred = float(np.sum(yp == lab))
        support = float(np.sum(yt == lab))
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / support if support else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": int(support)}
    return out


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Unweighted mean F1 over the true labels."""
    pc = per_class(y_true, y_pred)
    return float(np.mean([v["f1"] for v in pc.values()])) if pc else 0.0


def kendall_tau(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Kendall's tau-b between two rankings of the same items.

    ``a`` and ``b`` are the ranks (or scores) of item i in each ordering. Returns 1.0 for fewer
    than two items or when either side is all ties (nothing to disagree about).
    """
    n = len(a)
    if n != len(b):
        raise ValueError("rankings differ in length")
    conc = disc = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da = (a[i] > a[j]) - (a[i] < a[j])
            db = (b[i] > b[j]) - (b[i] < b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + ties_a) * (conc + disc + ties_b)) ** 0.5
    return 1.0 if denom == 0 else (conc - disc) / denom


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """The JSON block every classifier evaluation writes."""
    labs, m = confusion(y_true, y_pred, labels)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "per_class": per_class(y_true, y_pred),
        "confusion": {"labels": labs, "matrix": m.tolist()},
        "n_images": len(y_true),
    }
