"""Coarse garment category as a block of the crop vector: a small head on backbone features.

The block is ``sqrt(softmax(head(l2(cnn))))``, a unit vector: the dot product of two blocks is
the Bhattacharyya coefficient of the two predicted category distributions (1 when both heads are
sure of the same class, 0 for different classes). Appended to a crop vector with weight ``s``, it
adds ``s_query · s_catalog · BC`` to the score, which rewards catalog crops of the category the
query looks like: the embedding-space analogue of narrowing a search to the detector's class.

There is one head per domain (``catalog`` photos, street ``photo`` crops): on the validation
split a head trained on both at once was worse on each (docs/decisions/embeddings.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

INPUT_SCALE = 10.0  # unit-length inputs scaled so that the default init trains quickly
DOMAINS = ("catalog", "photo")


@dataclass(frozen=True)
class CategoryHead:
    """``relu(x W1 + b1) W2 + b2`` on L2-normalised features (one layer when ``w2`` is None)."""

    labels: tuple[str, ...]
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray | None = None
    b2: np.ndarray | None = None

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        x = INPUT_SCALE * x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        h = x @ self.w1.astype(np.float32) + self.b1.astype(np.float32)
        if self.w2 is not None and self.b2 is not None:
            h = np.maximum(h, 0.0) @ self.w2.astype(np.float32) + self.b2.astype(np.float32)
        return h

    def probs(self, features: np.ndarray) -> np.ndarray:
        z = self.logits(features)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def block(self, features: np.ndarray) -> np.ndarray:
        """Unit vectors ``sqrt(p)``: their dot product is the Bhattacharyya coefficient."""
        return np.sqrt(self.probs(features)).astype(np.float32)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """float16 weights under ``prefix`` names (for one ``.npz`` with the projection)."""
        out = {
            f"{prefix}labels": np.asarray(list(self.labels)),
            f"{prefix}w1": self.w1.astype(np.float16),
            f"{prefix}b1": self.b1.astype(np.float16),
        }
        if self.w2 is not None and self.b2 is not None:
            out[f"{prefix}w2"] = self.w2.astype(np.float16)
            out[f"{prefix}b2"] = self.b2.astype(np.float16)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> CategoryHead | None:
        """The head stored under ``prefix``, or None when the file has none."""
        if f"{prefix}w1" not in arrays:
            return None

        def get(name: str) -> np.ndarray | None:
            key = prefix + name
            return np.asarray(arrays[key], dtype=np.float32) if key in arrays else None

        w1, b1 = get("w1"), get("b1")
        assert w1 is not None and b1 is not None
        labels = tuple(str(x) for x in np.asarray(arrays[f"{prefix}labels"]).tolist())
        return cls(labels, w1, b1, get("w2"), get("b2"))
