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
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        """Read a head written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                has_mem = "memory_x" in z.files
                return cls(
                    labels=[str(s) for s in z["labels"]],
                    mean=z["mean"].astype(np.float32),
                    scale=z["scale"].astype(np.float32),
                    coef=z["coef"].astype(np.float32),
                    intercept=z["intercept"].astype(np.float32),
                    temperature=float(z["temperature"]),
                    meta=json.loads(str(z["meta"])),
                    memory_x=z["memory_x"].astype(np.float32) if has_mem else None,
                    memory_y=z["memory_y"].astype(str) if has_mem else None,
                )
        except (OSError, KeyError, ValueError) as e:
            raise ModelError(f"cannot load head {path}: {e}") from e


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
