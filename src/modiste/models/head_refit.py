"""Few-shot refit of a :class:`LinearHead` that stays close to the head it starts from.

Refitting from the head's small stored memory alone (about 60 rows a class) throws away what the
full training set taught it, and a few heavily weighted new photos then drag a known class
towards one fabric or one label. Here the refit is a maximum a posteriori fit whose L2 prior is
centred on the shipped weights instead of on zero: ``0.5 * ||W - W0||^2 + C * sum_i w_i CE_i``,
in the shipped head's standardisation. A class the head lacks starts from a zero row (plain L2),
so new classes are learnt as before; a class it knows only moves as far as the evidence asks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modiste.errors import ConfigError
from modiste.models.heads import LinearHead, softmax


def refit_toward(
    prior: LinearHead,
    x: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    c: float = 1.0,
    sample_weight: np.ndarray | None = None,
    balanced: bool = True,
) -> LinearHead:
    """A head over ``labels`` fitted on ``(x, y)`` with an L2 prior centred on ``prior``'s weights.

    Keeps ``prior``'s mean/scale (so its weights stay meaningful) and temperature. ``sample_weight``
    multiplies each row's loss on top of the balanced class weights.
    """
    from scipy.optimize import minimize

    labels = list(labels)
    idx = {lab: i for i, lab in enumerate(labels)}
    try:
        yi = np.array([idx[v] for v in y], dtype=np.int64)
    except KeyError as e:
        raise ConfigError(f"refit label {e.args[0]!r} is not among the head's labels") from e
    if len(set(yi.tolist())) < 2:
        raise ConfigError(
            f"a shot head needs examples of at least two classes (got {sorted(set(y)) or 'none'})"
        )
    k, d = len(labels), x.shape[1]
    z = ((np.asarray(x, np.float64) - prior.mean) / prior.scale).astype(np.float64)
    w0 = np.zeros((k, d))
    b0 = np.zeros(k)
    old = {lab: i for i, lab in enumerate(prior.labels)}
    for lab, i in idx.items():
        if lab in old:
            w0[i] = prior.coef[old[lab]]
            b0[i] = prior.intercept[old[lab]]
    known_b = b0[[idx[lab] for lab in labels if lab in old]]
    b0[[idx[lab] for lab in labels if lab not in old]] = known_b.mean() if len(known_b) else 0.0
    sw = np.ones(len(yi)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if balanced:  # sklearn's "balanced": every present class carries the same total weight
        counts = np.bincount(yi, minlength=k).astype(np.float64)
        present = counts > 0
        sw = sw * (len(yi) / (present.sum() * counts[yi]))
    onehot = np.eye(k)[yi]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: k * d].reshape(k, d)
        b = theta[k * d :]
        p = softmax(z @ w.T + b)
        ce = -np.log(np.clip(p[np.arange(len(yi)), yi], 1e-12, None))
        g = (p - onehot) * sw[:, None] * c
        dw = w - w0 + g.T @ z
        return float(0.5 * ((w - w0) ** 2).sum() + c * (sw * ce).sum()), np.concatenate(
            [dw.ravel(), g.sum(axis=0)]
        )

    res = minimize(
        loss,
        np.concatenate([w0.ravel(), b0]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 500},
    )
    theta = res.x
    return LinearHead(
        labels,
        prior.mean.copy(),
        prior.scale.copy(),
        theta[: k * d].reshape(k, d).astype(np.float32),
        theta[k * d :].astype(np.float32),
        temperature=prior.temperature,
        meta=dict(prior.meta),
    )
