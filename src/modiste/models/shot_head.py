"""What a shot head sees and how it is fitted: shared by serving, ``shots learn`` and training.

Lives below ``training/`` so that the classifier used at serving time (and the few-shot refit
of ``modiste shots learn``) never imports training code; ``modiste.training.shots`` builds on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modiste.errors import ConfigError
from modiste.models.heads import LinearHead


@dataclass(frozen=True)
class FeatureSpec:
    """What the head sees; stored in the head's metadata so prediction rebuilds the same thing."""

    backbone: str = "mobilenet_v2"
    pooling: str = "avgmax"
    size: int = 224
    cues: bool = True
    cue_set: str = "layout"  # "layout" or "all" (adds the Haar face cues; measured, see docs)
    tta: bool = False  # average original and mirrored features at prediction time
    cue_weight: float = 1.0  # boost of the standardised cue columns in the head (see fit_head)

    def as_meta(self) -> dict[str, Any]:
        return asdict(self)


def n_cues(spec: FeatureSpec) -> int:
    """Number of cue columns at the end of a head row."""
    from modiste.models.cues import cue_columns

    return len(cue_columns(spec.cue_set)) if spec.cues else 0


def spec_from_meta(meta: dict[str, Any]) -> FeatureSpec:
    """The :class:`FeatureSpec` a head was trained with."""
    fields = FeatureSpec.__dataclass_fields__
    return FeatureSpec(**{k: v for k, v in meta.items() if k in fields})


def combine(pooled: np.ndarray, cues: np.ndarray | None, spec: FeatureSpec) -> np.ndarray:
    """L2-normalised pooled vector, then cues: the head's input row."""
    pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-8)
    if spec.cues and cues is not None:
        from modiste.models.cues import cue_columns

        return np.concatenate([pooled, cues[:, cue_columns(spec.cue_set)]], axis=1).astype(
            np.float32
        )
    return pooled.astype(np.float32)


def fit_head(
    x: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    c: float = 1.0,
    balanced: bool = True,
    boost_last: int = 0,
    boost: float = 1.0,
) -> LinearHead:
    """Standardise and fit a multinomial logistic regression (lbfgs).

    ``boost`` multiplies the last ``boost_last`` standardised columns (the cues), which weakens
    the L2 penalty on them: a handful of cues otherwise drown among thousands of CNN features.
    """
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    if boost_last and boost != 1.0:
        scale[-boost_last:] /= boost
    idx = {lab: i for i, lab in enumerate(labels)}
    yi = np.array([idx[v] for v in y])
    if len(set(yi.tolist())) < 2:
        raise ConfigError(
            f"a shot head needs examples of at least two classes (got {sorted(set(y)) or 'none'})"
        )
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
    clf.fit((x - mean) / scale, yi)
    coef = np.zeros((len(labels), x.shape[1]), np.float32)
    intercept = np.full(len(labels), -1e4, np.float32)  # classes absent from y never win
    present = clf.classes_
    if len(present) == 2:  # sklearn stores one row for binary problems
        coef[present[1]], intercept[present[1]] = clf.coef_[0], clf.intercept_[0]
        coef[present[0]], intercept[present[0]] = 0.0, 0.0
    else:
        coef[present], intercept[present] = clf.coef_, clf.intercept_
    return LinearHead(
        list(labels), mean.astype(np.float32), scale.astype(np.float32), coef, intercept
    )
