"""The one protocol every vector-index backend implements, and the checks they share.

Scores are cosine similarities (higher is better): every backend L2-normalises what it is given
and searches by inner product, so a score means the same thing whichever backend answered.
Validation lives here so a dimension mismatch or a bad id reads the same on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from modiste.errors import VectorIndexError

Payload = dict[str, Any]
Filters = Mapping[str, Any]


@dataclass(frozen=True)
class Hit:
    """One search result: the catalog id (image or crop), its cosine score and its payload."""

    id: int
    score: float
    payload: Payload = field(default_factory=dict)


@runtime_checkable
class VectorIndex(Protocol):
    """Same verbs on every backend (FAISS embedded, Qdrant local or server)."""

    @property
    def dim(self) -> int: ...

    def add(
        self,
        ids: Sequence[int],
        vectors: np.ndarray,
        payloads: Sequence[Payload] | None = None,
    ) -> None:
        """Insert vectors; an id already present is replaced (vector and payload)."""

    def remove(self, ids: Sequence[int], *, missing_ok: bool = False) -> None:
        """Delete ids; unknown ids raise :class:`VectorIndexError` unless ``missing_ok``."""

    def search(
        self, query: np.ndarray, k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]:
        """One list of at most ``k`` hits, best first, per query row."""

    def count(self) -> int: ...

    def payload_items(self) -> Iterator[tuple[int, Payload]]:
        """Every stored id with its payload (what the catalog checks the index against)."""
        ...

    def __contains__(self, id_: object) -> bool: ...

    def save(self) -> None:
        """Persist to the index's path (atomically where the backend writes files itself)."""

    def rebuild(self, items: Iterable[tuple[int, np.ndarray, Payload | None]]) -> None:
        """Drop everything and index ``items`` from scratch (the catalog's recovery path)."""

    def close(self) -> None: ...


# --- shared validation ------------------------------------------------------------------------


def as_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Ids as int64, non-negative (Qdrant only takes unsigned ints) and unique within a call."""
    try:
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as e:
        raise VectorIndexError(f"ids must be integers: {e}") from e
    if arr.size and arr.min() < 0:
        raise VectorIndexError(f"ids must be non-negative integers, got {int(arr.min())}")
    if len(np.unique(arr)) != len(arr):
        raise VectorIndexError("ids must be unique within one call")
    return arr


def normalized(vectors: np.ndarray, dim: int, *, what: str = "vectors") -> np.ndarray:
    """Float32 rows of unit length; 1-D input is one row. Zero or non-finite rows are refused."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise VectorIndexError(
            f"dimension mismatch: index has dim {dim}, {what} have shape {tuple(arr.shape)}"
        )
    if not np.isfinite(arr).all():
        raise VectorIndexError(f"{what} contain NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if arr.size and (norms == 0).any():
        raise VectorIndexError(f"{what} contain an all-zero row (no direction to compare)")
    return np.ascontiguousarray(arr / np.where(norms == 0, 1, norms), dtype=np.float32)


def check_batch(
    ids: Sequence[int] | np.ndarray,
    vectors: np.ndarray,
    payloads: Sequence[Payload] | None,
    dim: int,
) -> tuple[np.ndarray, np.ndarray, list[Payload]]:
    """Validate one ``add`` call the same way for every backend."""
    id_arr = as_ids(ids)
    vecs = normalized(vectors, dim)
    if len(vecs) != len(id_arr):
        raise VectorIndexError(f"got {len(id_arr)} ids for {len(vecs)} vectors")
    if payloads is None:
        pays: list[Payload] = [{} for _ in id_arr]
    else:
        pays = [dict(p or {}) for p in payloads]
        if len(pays) != len(id_arr):
            raise VectorIndexError(f"got {len(pays)} payloads for {len(id_arr)} ids")
    return id_arr, vecs, pays


def check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise VectorIndexError(f"k must be a positive integer, got {k!r}")
    return int(k)


def unknown_ids_error(missing: Iterable[int]) -> VectorIndexError:
    shown = sorted(int(i) for i in missing)
    more = f" (+{len(shown) - 10} more)" if len(shown) > 10 else ""
    return VectorIndexError(f"unknown ids: {shown[:10]}{more}")


def ensure_dir(path: Path | None) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VectorIndexError(f"cannot create index directory {path}: {e}") from e
    return path
