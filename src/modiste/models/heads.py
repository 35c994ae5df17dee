"""A small linear head stored as ``.npz``: standardisation, weights, temperature, and metadata.

Kept in NumPy (no torch at prediction time) so the committed file is small and loads instantly.
The file may also carry a capped subsample of its training features, so a user can refit the head
with a few new examples (few-shot) without the original data sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import ModelError


@dataclass
class LinearHead:
    """Multinomial logistic head over standardised features, with temperature calibration."""

    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    memory_x: np.ndarray | None = None  # stored training features (raw, float16) for refits
    memory_y: np.ndarray | None = None  # their labels (str)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated class scores (N, K)."""
        z = (np.asarray(x, dtype=np.float32) - self.mean) / self.scale
        return z @ self.coef.T + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, K)."""
        return softmax(self.logits(x) / self.temperature)

    def save(self, path: Path) -> None:
        """Write the head (float16 weights keep shipped files small)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **self.arrays())
        tmp.replace(path)

    def arrays(self, prefix: str = "") -> dict[str, Any]:
        """The head as named arrays (float16 weights keep shipped files small)."""
        arrays: dict[str, Any] = {
            "labels": np.array(self.labels),
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept.astype(np.float32),
            "temperature": np.float32(self.temperature),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        if self.memory_x is not None and self.memory_y is not None:
            arrays["memory_x"] = self.memory_x.astype(np.float16)
            arrays["memory_y"] = np.asarray(self.memory_y)
        return {prefix + k: v for k, v in arrays.items()}

    @classmethod
    def from_arrays(cls, z: Any, prefix: str = "") -> LinearHead:
        """The head stored under ``prefix`` in an open ``.npz``."""
        has_mem = prefix + "memory_x" in z.files
        return cls(
            labels=[str(s) for s in z[prefix + "labels"]],
            mean=z[prefix + "mean"].astype(np.float32),
            scale=z[prefix + "scale"].astype(np.float32),
            coef=z[prefix + "coef"].astype(np.float32),
            intercept=z[prefix + "intercept"].astype(np.float32),
            temperature=float(z[prefix + "temperature"]),
            meta=json.loads(str(z[prefix + "meta"])),
            memory_x=z[prefix + "memory_x"].astype(np.float32) if has_mem else None,
            memory_y=z[prefix + "memory_y"].astype(str) if has_mem else None,
        )

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        """Read a head written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls.from_arrays(z)
        except (OSError, KeyError, ValueError) as e:
            raise ModelError(f"cannot load head {path}: {e}") from e


@dataclass
class GatedHead:
    """Two linear experts under a linear gate: P(class) = P(side) * P(class | side).

    The shot head's ``gallery`` expert is fitted on real gallery photos only and its ``detail``
    expert on close-ups, labels and charts (generated training data); the gate learns which
    side a photo is on from both. Adding the generated classes then cannot move a real model
    shot between gallery classes, only (if the gate errs) onto the detail side, which the
    evaluation counts. Same ``labels``/``proba``/``meta`` surface as :class:`LinearHead`.
    """

    gate: LinearHead  # labels: ["gallery", "detail"]
    gallery: LinearHead
    detail: LinearHead
    meta: dict[str, Any] = field(default_factory=dict)
    # Optional second gallery expert over features of a larger input (``meta["refine_size"]``),
    # used only for the photos :func:`refine_mask` picks (see :meth:`refined`).
    refine: LinearHead | None = None

    SIDES = ("gallery", "detail")

    @property
    def labels(self) -> list[str]:
        return [*self.gallery.labels, *self.detail.labels]

    @property
    def temperature(self) -> float:
        return self.gallery.temperature

    def side_of(self, label: str) -> str:
        return "detail" if label in self.detail.labels else "gallery"

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, K) in :attr:`labels` order (each part calibrated)."""
        return combine_sides(self.gate.proba(x), self.gallery.proba(x), self.detail.proba(x))

    @property
    def refine_size(self) -> int | None:
        """Input side of the :attr:`refine` expert's features (None: no refine pass)."""
        return int(self.meta["refine_size"]) if self.refine is not None else None

    @property
    def refine_below(self) -> float:
        return float(self.meta.get("refine_below", REFINE_BELOW))

    @property
    def refine_tta(self) -> bool:
        """Whether the refine pass averages in the mirror (as its expert was scored)."""
        return bool(self.meta.get("refine_tta", self.meta.get("tta", False)))

    @property
    def refine_backbone(self) -> str | None:
        """Backbone of the refine pass (None: the first pass's, as heads before it was stored)."""
        name = self.meta.get("refine_backbone")
        return str(name) if name else None

    @property
    def refine_base(self) -> bool:
        """Whether the refine expert's rows hold the first pass's pooled features before the
        larger input's ([base ‖ large], then the cues)."""
        return bool(self.meta.get("refine_base", False))

    def without_refine(self) -> GatedHead:
        """The same head with no refine expert, and none of its settings in :attr:`meta`."""
        meta = {k: v for k, v in self.meta.items() if not k.startswith("refine_")}
        return GatedHead(self.gate, self.gallery, self.detail, meta)

    def refined(self, x: np.ndarray, x_large: np.ndarray) -> np.ndarray:
        """Probabilities with the gallery side read by :attr:`refine` on ``x_large`` rows (the
        same photos at :attr:`refine_size`); gate and detail expert keep ``x``."""
        if self.refine is None:
            raise ModelError("this head has no refine expert")
        return combine_sides(self.gate.proba(x), self.refine.proba(x_large), self.detail.proba(x))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Log-probabilities: the softmax of these is :meth:`proba`."""
        return np.log(np.clip(self.proba(x), 1e-12, None))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "kind": np.array("gated"),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        for name in ("gate", *self.SIDES):
            arrays.update(getattr(self, name).arrays(prefix=f"{name}."))
        if self.refine is not None:
            arrays.update(self.refine.arrays(prefix="refine."))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)


def load_head(path: Path) -> LinearHead | GatedHead:
    """Read a :class:`LinearHead` or a :class:`GatedHead` file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "kind" in z.files and str(z["kind"]) == "gated":
                return GatedHead(
                    gate=LinearHead.from_arrays(z, "gate."),
                    gallery=LinearHead.from_arrays(z, "gallery."),
                    detail=LinearHead.from_arrays(z, "detail."),
                    meta=json.loads(str(z["meta"])),
                    refine=LinearHead.from_arrays(z, "refine.")
                    if "refine.labels" in z.files
                    else None,
                )
            return LinearHead.from_arrays(z)
    except (OSError, KeyError, ValueError) as e:
        raise ModelError(f"cannot load head {path}: {e}") from e


# A gated head's refine pass reads the gallery photos whose probability stays under this (the
# ingest's mirror line, MIRROR_SURE: not tuned for the refine pass).
REFINE_BELOW = 0.9


def combine_sides(side: np.ndarray, gallery: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """P(class) = P(side) * P(class | side), gallery classes first."""
    return np.concatenate([side[:, :1] * gallery, side[:, 1:] * detail], axis=1)


def refine_mask(proba: np.ndarray, side: np.ndarray, below: float = REFINE_BELOW) -> np.ndarray:
    """Photos for the refine pass: top probability under ``below``, gate on the gallery side."""
    return np.asarray((proba.max(axis=1) < below) & (side[:, 0] >= 0.5))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood of held-out logits (grid + refine)."""

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 60))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.8, best * 1.25, 30)
    return float(min(fine, key=nll))
