"""The three FAISS layouts behind :class:`~modiste.index.faiss_index.FaissIndex`.

Each engine speaks external (catalog) ids and knows nothing of payloads or files:

* ``flat``  exact inner product (``IndexIDMap2(IndexFlatIP)``); true deletes.
* ``ivf``   inverted lists over a compact codec (default 6-bit scalar quantiser, ~0.97 KB per
  1280-d vector); true deletes, cheap incremental adds, needs a training sample.
* ``hnsw``  graph over the same codec; FAISS cannot delete from HNSW, so removed vectors become
  tombstones (internal labels excluded by an ``IDSelector`` at search time) until ``compact``
  rebuilds the graph from the live vectors.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import VectorIndexError

log = logging.getLogger(__name__)
KINDS = ("flat", "ivf", "hnsw")
EXACT_SUBSET_MAX = 65536  # HNSW: decode at most this many vectors for an exact filtered search


def _faiss() -> Any:
    import faiss  # heavy: imported when an index is built, never at import time

    return faiss


def _writer(index: Any) -> Callable[[Path], None]:
    return lambda path: _faiss().write_index(index, str(path))


def _read(path: Path) -> Any:
    try:
        return _faiss().read_index(str(path))
    except RuntimeError as e:
        raise VectorIndexError(
            f"corrupt FAISS index file {path.name}: {str(e).splitlines()[0]}"
        ) from e


def _bitmap_selector(mask: np.ndarray) -> Any:
    """Selector from a boolean mask over ids 0..len-1; the bitmap rides along on the selector
    (FAISS keeps only a pointer to it)."""
    bitmap = np.packbits(mask, bitorder="little")
    sel = _faiss().IDSelectorBitmap(len(bitmap), _faiss().swig_ptr(bitmap))
    sel.referenced_objects = [bitmap]
    return sel


def _ids_selector(ids: np.ndarray) -> Any:
    """An ``IDSelector`` over catalog ids: a bitmap when the ids are dense enough, else a hash set.

    ``IDSelectorBatch`` inserts every id into a C++ hash set (~8 ms for 62k ids here), the bitmap
    costs ~0.1 ms per million id span, and catalog ids are database keys, so usually dense.
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    top = int(ids.max()) + 1 if len(ids) else 0
    if top <= max(1 << 24, 64 * len(ids)):
        mask = np.zeros(top, dtype=bool)
        mask[ids] = True
        return _bitmap_selector(mask)
    return _faiss().IDSelectorBatch(ids)


class _IdMapped:
    """Count, add and delete for engines whose FAISS index stores our ids (flat, IVF)."""

    index: Any

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        self.index.add_with_ids(vecs, ids)

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(_ids_selector(ids))


class FlatEngine(_IdMapped):
    """Exact search; the reference every other layout is measured against."""

    kind = "flat"

    def __init__(self, dim: int, index: Any | None = None) -> None:
        faiss = _faiss()
        self.dim = dim
        self.index = index or faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def search(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None = None, exhaustive: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        params = None
        if allowed is not None:
            params = _faiss().SearchParameters(sel=_ids_selector(allowed))
        return self.index.search(q, k, params=params)

    def vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ids = _faiss().vector_to_array(self.index.id_map)
        for s in range(0, len(ids), batch):
            yield ids[s : s + batch], self.index.index.reconstruct_n(s, min(batch, len(ids) - s))

    def to_files(self) -> dict[str, Any]:
        return {"index": _writer(self.index)}

    @classmethod
    def from_files(cls, dim: int, files: dict[str, Path], meta: dict[str, Any]) -> FlatEngine:
        return cls(dim, _read(files["index"]))


class IvfEngine(_IdMapped):
    """Inverted lists over a compressed codec: the layout for large catalogs."""

    kind = "ivf"

    def __init__(self, dim: int, codec: str, nprobe: int, index: Any | None = None) -> None:
        self.dim, self.codec, self.nprobe = dim, codec, nprobe
        self.index: Any = index

    @staticmethod
    def nlist_for(n: int) -> int:
        # ~4·sqrt(n) lists, but keep >= 39 training points per centroid (k-means needs them).
        return max(1, int(4 * math.sqrt(max(n, 1))))

    def train(self, sample: np.ndarray, expected_n: int | None = None) -> None:
        faiss = _faiss()
        # Lists sized for the expected collection, capped by what the sample can train.
        nlist = min(self.nlist_for(expected_n or len(sample)), max(1, len(sample) // 30))
        try:
            index = faiss.index_factory(
                self.dim, f"IVF{nlist},{self.codec}", faiss.METRIC_INNER_PRODUCT
            )
        except RuntimeError as e:
            raise VectorIndexError(f"bad FAISS codec {self.codec!r}: {e}") from e
        # Spherical k-means: the centroids live on the sphere, like the data.
        faiss.extract_index_ivf(index).cp.spherical = True
        index.train(sample)
        self.index = index
        log.info("trained IVF%d,%s on %d vectors", nlist, self.codec, len(sample))

    def search(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None = None, exhaustive: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        nlist = faiss.extract_index_ivf(self.index).nlist
        nprobe = self.nprobe
        if allowed is not None and len(allowed):
            # Probe enough lists to expect ~2k allowed vectors in them (m of n spread over the
            # lists), so a selective filter does not come back short; exhaustive is the fallback.
            nprobe = max(nprobe, math.ceil(2 * k * nlist / len(allowed)))
        params = faiss.SearchParametersIVF(nprobe=nlist if exhaustive else min(nprobe, nlist))
        if allowed is not None:
            params.sel = _ids_selector(allowed)
        return self.index.search(q, k, params=params)

    def vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Decoded (lossy) vectors, for retraining and compaction."""
        faiss = _faiss()
        ivf = faiss.extract_index_ivf(self.index)
        invlists = ivf.invlists
        for list_no in range(ivf.nlist):
            size = invlists.list_size(list_no)
            if size == 0:
                continue
            ids = faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy()
            vecs = np.vstack([ivf.reconstruct_from_offset(list_no, o) for o in range(size)])
            yield ids, vecs

    def to_files(self) -> dict[str, Any]:
        return {"index": _writer(self.index)}

    @classmethod
    def from_files(cls, dim: int, files: dict[str, Path], meta: dict[str, Any]) -> IvfEngine:
        return cls(dim, meta["codec"], int(meta["nprobe"]), _read(files["index"]))


class HnswEngine:
    """HNSW graph; deletes are tombstones until :meth:`FaissIndex.compact`."""

    kind = "hnsw"

    def __init__(self, dim: int, codec: str, m: int, ef_construction: int, ef_search: int) -> None:
        self.dim, self.codec, self.m = dim, codec, m
        self.ef_construction, self.ef_search = ef_construction, ef_search
        self.index: Any = None
        self.labels = np.empty(0, dtype=np.int64)  # internal label -> external id
        self.dead = np.empty(0, dtype=bool)
        self.label_of: dict[int, int] = {}

    def train(self, sample: np.ndarray, expected_n: int | None = None) -> None:
        faiss = _faiss()
        spec = f"HNSW{self.m}" if self.codec == "Flat" else f"HNSW{self.m},{self.codec}"
        try:
            index = faiss.index_factory(self.dim, spec, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as e:
            raise VectorIndexError(f"bad FAISS codec {self.codec!r}: {e}") from e
        index.hnsw.efConstruction = self.ef_construction
        index.train(sample)
        self.index = index

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def n_dead(self) -> int:
        return int(self.dead.sum())

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        start = self.ntotal
        self.index.add(vecs)
        self.labels = np.concatenate([self.labels, ids])
        self.dead = np.concatenate([self.dead, np.zeros(len(ids), dtype=bool)])
        self.label_of.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))

    def remove(self, ids: np.ndarray) -> None:
        labels = [self.label_of.pop(int(i)) for i in ids]
        self.dead[labels] = True

    def search(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None = None, exhaustive: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        live = ~self.dead
        if allowed is not None:
            live &= np.isin(self.labels, allowed)
            if exhaustive and live.sum() <= EXACT_SUBSET_MAX:
                return self._exact(q, k, np.flatnonzero(live))
        ef = max(self.ef_search, k)
        if exhaustive:
            ef = max(ef, min(self.ntotal, 4096))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if allowed is not None or not live.all():
            params.sel = _bitmap_selector(live)
        scores, labels_found = self.index.search(q, k, params=params)
        ids = np.where(labels_found >= 0, self.labels[np.maximum(labels_found, 0)], -1)
        return scores, ids

    def _exact(self, q: np.ndarray, k: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over a few labels: a graph walk can miss a small scattered subset."""
        sims = q @ self.index.reconstruct_batch(labels).T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, top, axis=1), self.labels[labels[top]]

    def vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for s in range(0, self.ntotal, batch):
            n = min(batch, self.ntotal - s)
            live = ~self.dead[s : s + n]
            yield self.labels[s : s + n][live], self.index.reconstruct_n(s, n)[live]

    def to_files(self) -> dict[str, Any]:
        buf = io.BytesIO()
        np.savez(buf, labels=self.labels, dead=self.dead)
        return {"index": _writer(self.index), "labels": buf.getvalue()}

    @classmethod
    def from_files(cls, dim: int, files: dict[str, Path], meta: dict[str, Any]) -> HnswEngine:
        eng = cls(
            dim,
            meta["codec"],
            int(meta["hnsw_m"]),
            int(meta["ef_construction"]),
            int(meta["ef_search"]),
        )
        eng.index = _read(files["index"])
        try:
            arrays = np.load(files["labels"])
            eng.labels, eng.dead = arrays["labels"], arrays["dead"]
        except (OSError, ValueError, KeyError) as e:
            raise VectorIndexError(f"corrupt HNSW label file: {e}") from e
        if len(eng.labels) != eng.ntotal:
            raise VectorIndexError("corrupt HNSW index: label count does not match the graph")
        live = np.flatnonzero(~eng.dead)
        eng.label_of = dict(zip(eng.labels[live].tolist(), live.tolist(), strict=True))
        return eng
