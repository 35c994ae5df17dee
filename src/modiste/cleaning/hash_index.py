"""Sub-linear candidate search for duplicate detection: Hamming bands and a cosine seam.

Comparing every new image with every stored one is O(n) per image and O(n²) per catalog. Two
indexes avoid that: a multi-index hash (split the 64-bit pHash into four 16-bit bands; by the
pigeonhole principle any hash within distance 3 shares at least one band exactly, so a lookup
touches only the buckets of the query's four bands), and a cosine kNN over layout vectors or
CNN embeddings behind a small seam, so a project-wide vector index can replace the flat one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol, runtime_checkable

import numpy as np

from modiste.errors import VectorIndexError
from modiste.imaging.hashes import hamming_many

BANDS = 4
BAND_BITS = 64 // BANDS


class MultiIndexHash:
    """Exact Hamming-radius search over 64-bit hashes for radii below ``BANDS``."""

    def __init__(self) -> None:
        self._buckets: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(BANDS)]
        self._hashes: list[int] = []

    def __len__(self) -> int:
        return len(self._hashes)

    @staticmethod
    def _bands(h: int) -> list[int]:
        mask = (1 << BAND_BITS) - 1
        return [(h >> (i * BAND_BITS)) & mask for i in range(BANDS)]

    def add(self, h: int) -> int:
        """Store a hash; returns its position."""
        pos = len(self._hashes)
        self._hashes.append(h)
        for bucket, band in zip(self._buckets, self._bands(h), strict=True):
            bucket[band].append(pos)
        return pos

    def search(self, h: int, radius: int) -> list[tuple[int, int]]:
        """``(position, distance)`` of stored hashes within ``radius`` (exact if radius < 4)."""
        seen: set[int] = set()
        for bucket, band in zip(self._buckets, self._bands(h), strict=True):
            seen.update(bucket.get(band, ()))
        if not seen:
            return []
        pos = np.fromiter(seen, dtype=np.int64, count=len(seen))
        dist = hamming_many(h, np.array([self._hashes[p] for p in pos], dtype=np.uint64))
        keep = dist <= radius
        return [(int(p), int(d)) for p, d in zip(pos[keep], dist[keep], strict=True)]


@runtime_checkable
class NeighbourIndex(Protocol):
    """What the finder needs from a vector index: append unit vectors, cosine kNN by position."""

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, positions)``, each of shape ``(len(query), k)``; -1 pads."""
        ...


class FlatCosineIndex:
    """Brute-force inner product over a growing float32 matrix.

    Exact and fast up to ~10⁵ images (one matrix product per query batch); past that, pass a
    FAISS HNSW or Qdrant backed :class:`NeighbourIndex` to the finder instead.
    """

    def __init__(self, dim: int | None = None) -> None:
        self._dim = dim
        self._data = np.zeros((0, dim or 0), dtype=np.float32)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, vectors: np.ndarray) -> None:
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        if self._dim is None:
            self._dim = vecs.shape[1]
            self._data = np.zeros((0, self._dim), dtype=np.float32)
        if vecs.shape[1] != self._dim:
            raise VectorIndexError(
                f"vector dimension {vecs.shape[1]} != index dimension {self._dim}"
            )
        need = self._n + len(vecs)
        if need > len(self._data):  # grow geometrically so n adds cost O(n) copies
            grown = np.zeros((max(need, 2 * len(self._data), 64), self._dim), dtype=np.float32)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = vecs
        self._n = need

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query, dtype=np.float32).reshape(len(query), -1)
        scores, pos = _no_neighbours(len(q), k)
        if self._n == 0:
            return scores, pos
        if q.shape[1] != self._dim:
            raise VectorIndexError(f"query dimension {q.shape[1]} != index dimension {self._dim}")
        sims = q @ self._data[: self._n].T
        kk = min(k, self._n)
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        top_s = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_s, axis=1)
        scores[:, :kk] = np.take_along_axis(top_s, order, axis=1)
        pos[:, :kk] = np.take_along_axis(top, order, axis=1)
        return scores, pos


class VectorIndexNeighbours:
    """Adapts a project :class:`modiste.index.VectorIndex` (ids, hits) to :class:`NeighbourIndex`.

    Positions are used as the index ids, so pass a fresh, dedicated index.
    """

    def __init__(self, index: object) -> None:
        self._index = index
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, vectors: np.ndarray) -> None:
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
        ids = list(range(self._n, self._n + len(vecs)))
        self._index.add(ids, vecs)  # type: ignore[attr-defined]
        self._n += len(vecs)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(query, dtype=np.float32).reshape(len(query), -1)
        scores, pos = _no_neighbours(len(q), k)
        if self._n == 0:
            return scores, pos
        for row, hits in enumerate(self._index.search(q, k=k)):  # type: ignore[attr-defined]
            for col, hit in enumerate(hits[:k]):
                scores[row, col], pos[row, col] = hit.score, hit.id
        return scores, pos


def _no_neighbours(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of ``n`` queries that found nothing yet: -inf and -1."""
    return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)
