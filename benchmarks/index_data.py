"""Synthetic clustered embeddings for the vector-index benchmark.

Real CNN features are not isotropic noise: they live near a low-dimensional manifold, are
non-negative after the ReLU/average pool, and come in clusters (a product photographed several
times). So points are drawn from a Gaussian mixture in a small latent space (``intrinsic_dim``)
with a few thousand centres, lifted to ``dim`` by a fixed random linear map, passed through a
ReLU, plus a little isotropic noise, then L2-normalised. Chunks are generated from their own seed
so a 1M-vector set can be streamed and regenerated without holding it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusteredVectors:
    """A reproducible mixture: the same arguments always give the same vectors."""

    dim: int = 1280
    n_centres: int = 4000
    intrinsic_dim: int = 64
    spread: float = 0.45
    noise: float = 0.02
    seed: int = 0

    def _basis(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        centres = rng.standard_normal((self.n_centres, self.intrinsic_dim)).astype(np.float32)
        lift = rng.standard_normal((self.intrinsic_dim, self.dim)).astype(np.float32)
        lift /= np.sqrt(self.intrinsic_dim)
        return centres, lift

    def _sample(self, n: int, rng: np.random.Generator, basis) -> np.ndarray:
        centres, lift = basis
        which = rng.integers(0, self.n_centres, size=n)
        latent = centres[which] + self.spread * rng.standard_normal(
            (n, self.intrinsic_dim), dtype=np.float32
        )
        x = np.maximum(latent @ lift, 0.0)
        x += self.noise * rng.standard_normal((n, self.dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
        return x.astype(np.float32, copy=False)

    def chunks(self, n: int, chunk: int = 50_000) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_id, vectors)`` blocks covering ids ``0..n-1``."""
        basis = self._basis()
        for i, start in enumerate(range(0, n, chunk)):
            rng = np.random.default_rng((self.seed, 1, i))
            yield start, self._sample(min(chunk, n - start), rng, basis)

    def queries(self, n: int) -> np.ndarray:
        """Fresh draws from the same mixture: near the data, never identical to a stored vector."""
        return self._sample(n, np.random.default_rng((self.seed, 2)), self._basis())


def exact_topk(
    data: ClusteredVectors, n: int, queries: np.ndarray, k: int, chunk: int = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k over a streamed set (ground truth for recall)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for start, block in data.chunks(n, chunk):
        sims = queries @ block.T
        cand_s = np.concatenate([best_s, sims], axis=1)
        cand_i = np.concatenate(
            [best_i, np.broadcast_to(np.arange(start, start + len(block)), sims.shape)], axis=1
        )
        top = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, top, 1)
        best_i = np.take_along_axis(cand_i, top, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
