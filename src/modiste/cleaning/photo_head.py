"""The photo half of the title + photo categorizer: a linear head on backbone features, fused.

A title says "Women Black Shoes"; the photo says flat or heeled. The head is a multinomial
logistic regression on the shot head's backbone features (L2-normalised, then standardised); its
probabilities are fused with the title model's calibrated ones, either as a product of experts
(``log``: p_title * p_photo ** w) or as a mixture (``linear``: (1 - w) p_title + w p_photo). The
fusion and ``w`` are chosen on a validation split carved from the training side
(``docs/decisions/text-categorizer.md``). Classes the head never saw a photo of keep a small floor
of photo probability, so a confident title for them (a watch) still wins. Arrays are stored as
float16 in ``photo.npz`` beside the title model; a folder without it is a title-only model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modiste.cleaning.photo_features import PhotoSpec
from modiste.errors import ModelError

FUSIONS = ("log", "linear")
FLOOR = 1e-3  # share of photo probability spread over every class (unseen ones included)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


@dataclass
class PhotoHead:
    """``proba(features)`` over its own classes; ``fuse`` maps them onto the title's classes."""

    spec: PhotoSpec
    classes: list[str]
    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)
    mean: np.ndarray  # (dim,) of L2-normalised training features
    scale: np.ndarray  # (dim,)
    fusion: str = "log"
    weight: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, features: np.ndarray, labels: Sequence[str], c: float, spec: PhotoSpec
    ) -> PhotoHead:
        """Logistic regression (L2, ``C=c``) on standardised, L2-normalised features."""
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ModelError("a photo head needs photos of at least two classes")
        x = _l2(features)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        lr = LogisticRegression(C=c, max_iter=2000)
        lr.fit((x - mean) / scale, np.asarray(labels))
        coef, icpt = lr.coef_, lr.intercept_
        if len(classes) == 2:  # binary: one row of logits; make it one score per class
            coef, icpt = np.vstack([-coef, coef]) / 2, np.concatenate([-icpt, icpt]) / 2
        head = cls(spec, [str(k) for k in lr.classes_], coef, icpt, mean, scale)
        head.info = {"n_train": len(labels), "c": c}
        return head.rounded()

    def rounded(self) -> PhotoHead:
        """The head as it will be after saving (float16 weights): pick ``w`` on this one."""
        for name in ("coef", "intercept", "mean", "scale"):
            setattr(self, name, getattr(self, name).astype(np.float16).astype(np.float32))
        return self

    def proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (rows of finite features), columns in ``self.classes`` order."""
        x = (_l2(features) - self.mean) / self.scale
        return _softmax(x @ self.coef.T + self.intercept)

    def on_classes(self, features: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """Photo probabilities over ``classes`` (the title model's), floored for unseen ones."""
        index = {c: i for i, c in enumerate(classes)}
        cols = [index.get(c, -1) for c in self.classes]
        q = np.full((len(features), len(classes)), FLOOR / len(classes), dtype=np.float64)
        p = self.proba(features) * (1.0 - FLOOR)
        for j, col in enumerate(cols):
            if col >= 0:
                q[:, col] += p[:, j]
        return q / q.sum(axis=1, keepdims=True)

    def fuse(
        self, p_text: np.ndarray, classes: Sequence[str], features: np.ndarray | None
    ) -> np.ndarray:
        """Title probabilities with the photo's folded in; rows with no photo (NaN) unchanged."""
        if features is None or not len(p_text):
            return p_text
        has = np.isfinite(features).all(axis=1)
        if not has.any():
            return p_text
        out = np.array(p_text, dtype=np.float64)
        q = self.on_classes(features[has], classes)
        out[has] = fuse_probs(out[has], q, self.fusion, self.weight)
        return out

    # ------------------------------------------------------------------ files
    def meta(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "classes": self.classes,
            "fusion": self.fusion,
            "weight": self.weight,
            "info": self.info,
        }

    def arrays(self) -> dict[str, Any]:
        return {
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept.astype(np.float16),
            "mean": self.mean.astype(np.float16),
            "scale": self.scale.astype(np.float16),
        }

    @classmethod
    def from_saved(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> PhotoHead:
        if meta.get("fusion") not in FUSIONS:
            raise ModelError(f"unknown photo fusion {meta.get('fusion')!r}")
        coef = arrays["coef"].astype(np.float32)
        if coef.shape[0] != len(meta["classes"]) or arrays["mean"].shape != (coef.shape[1],):
            raise ModelError("photo head arrays do not match its classes")
        return cls(
            PhotoSpec.from_dict(meta["spec"]),
            list(meta["classes"]),
            coef,
            arrays["intercept"].astype(np.float32),
            arrays["mean"].astype(np.float32),
            arrays["scale"].astype(np.float32),
            fusion=meta["fusion"],
            weight=float(meta["weight"]),
            info=dict(meta.get("info", {})),
        )


def fuse_probs(p_text: np.ndarray, q: np.ndarray, fusion: str, weight: float) -> np.ndarray:
    """Product of experts (``log``) or mixture (``linear``) of two probability rows."""
    if fusion == "log":
        z = np.log(p_text + 1e-12) + weight * np.log(q)
        return _softmax(z)
    if fusion == "linear":
        return np.asarray((1.0 - weight) * p_text + weight * q)
    raise ModelError(f"unknown fusion {fusion!r}; valid: {', '.join(FUSIONS)}")


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
