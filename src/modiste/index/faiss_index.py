"""Embedded FAISS index: exact while small, compressed IVF (or HNSW) once it grows.

``kind="auto"`` (the default) starts exact and migrates once, when the raw float32 matrix would
pass ``flat_max_bytes`` (128 MiB: ~26k vectors at 1280-d, where exact search stops fitting a
5 ms budget on 2 cores), to ``ivf`` with a 6-bit scalar-quantised codec. Payloads live beside
the vectors in a JSON sidecar; an inverted map over them (``payload_map``) turns a filter into
the matching ids, and the engine searches only those (an ``IDSelector``), so a filtered search
returns ``k`` hits in one pass. The map is derived from the payloads, never saved.
Persistence is generation files plus an atomically replaced manifest (see ``persist``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import VectorIndexError
from modiste.index import persist
from modiste.index.base import (
    Filters,
    Hit,
    Payload,
    as_ids,
    check_batch,
    check_k,
    ensure_dir,
    normalized,
    unknown_ids_error,
)
from modiste.index.faiss_engines import KINDS, FlatEngine, HnswEngine, IvfEngine
from modiste.index.filters import parse_filters
from modiste.index.payload_map import PayloadMap

log = logging.getLogger(__name__)
FORMAT = "modiste-faiss-1"
DEFAULT_FLAT_MAX_BYTES = 128 * 2**20
MAX_TRAIN = 160_000  # k-means on more points costs minutes on 2 cores for little recall
Engine = FlatEngine | IvfEngine | HnswEngine


class FaissIndex:
    """A :class:`~modiste.index.base.VectorIndex` stored in one directory (or only in memory)."""

    def __init__(
        self,
        dim: int,
        path: Path | None = None,
        *,
        kind: str = "auto",
        flat_threshold: int | None = None,
        codec: str = "SQ6",
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 96,
        min_train: int = 1000,
        compact_ratio: float = 0.25,
    ) -> None:
        if kind != "auto" and kind not in KINDS:
            raise VectorIndexError(f"unknown FAISS kind {kind!r}; valid: auto, {', '.join(KINDS)}")
        if not isinstance(dim, int) or dim < 1:
            raise VectorIndexError(f"dim must be a positive integer, got {dim!r}")
        self._dim, self.path, self.requested_kind = dim, ensure_dir(path), kind
        self.flat_threshold = flat_threshold or max(1, DEFAULT_FLAT_MAX_BYTES // (4 * dim))
        self.codec, self.nprobe = codec, nprobe
        self.hnsw_m, self.ef_construction, self.ef_search = hnsw_m, ef_construction, ef_search
        self.min_train, self.compact_ratio = min_train, compact_ratio
        self._engine: Engine = FlatEngine(dim)
        self._payloads: dict[int, Payload] = {}
        self._map = PayloadMap(self._payloads)

    # --- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, dim: int | None = None, **kw: Any) -> FaissIndex:
        """Load the index committed in ``path`` (or a new empty one when there is none)."""
        path = Path(path)
        manifest = persist.read_manifest(path) if path.is_dir() else None
        if manifest is None:
            if dim is None:
                raise VectorIndexError(f"no index at {path} and no dim given to create one")
            return cls(dim, path, **kw)
        if manifest.get("format") != FORMAT:
            fmt = manifest.get("format")
            raise VectorIndexError(f"corrupt index at {path}: unknown format {fmt!r}")
        if dim is not None and dim != manifest["dim"]:
            raise VectorIndexError(
                f"dimension mismatch: index at {path} has dim {manifest['dim']}, asked for {dim}"
            )
        opts: dict[str, Any] = {
            k: manifest[k]
            for k in (
                "kind",
                "codec",
                "nprobe",
                "hnsw_m",
                "ef_construction",
                "ef_search",
                "flat_threshold",
            )
            if k in manifest
        }
        opts["kind"] = manifest["requested_kind"]
        idx = cls(int(manifest["dim"]), path, **{**opts, **kw})
        files = persist.file_paths(path, manifest)
        engines: dict[str, Any] = {"flat": FlatEngine, "ivf": IvfEngine, "hnsw": HnswEngine}
        idx._engine = engines[manifest["kind"]].from_files(idx._dim, files, manifest)
        try:
            raw = json.loads(files["payloads"].read_bytes())
            idx._payloads = {int(k): v for k, v in raw.items()}
            idx._map.reset(idx._payloads)
        except (OSError, ValueError, KeyError) as e:
            raise VectorIndexError(f"corrupt index at {path}: bad payload file ({e})") from e
        if idx._engine.ntotal - getattr(idx._engine, "n_dead", 0) != len(idx._payloads):
            raise VectorIndexError(f"corrupt index at {path}: vectors and payloads disagree")
        return idx

    load = open

    # --- the protocol --------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        """The layout in use now (``auto`` resolves to ``flat`` or the large layout)."""
        return self._engine.kind

    def count(self) -> int:
        return len(self._payloads)

    def __contains__(self, id_: object) -> bool:
        return isinstance(id_, (int, np.integer)) and int(id_) in self._payloads

    def payload_items(self) -> Iterator[tuple[int, Payload]]:
        yield from list(self._payloads.items())  # a copy: callers may add or remove meanwhile

    def __len__(self) -> int:
        return self.count()

    def add(
        self, ids: Sequence[int], vectors: np.ndarray, payloads: Sequence[Payload] | None = None
    ) -> None:
        id_arr, vecs, pays = check_batch(ids, vectors, payloads, self._dim)
        if not len(id_arr):
            return
        id_list = id_arr.tolist()
        present = np.fromiter((i in self._payloads for i in id_list), bool, len(id_arr))
        if present.any():  # re-adding replaces: drop the old vector first
            self._engine.remove(id_arr[present])
        try:
            self._engine.add(id_arr, vecs)
        except RuntimeError as e:
            raise VectorIndexError(f"FAISS add failed: {e}") from e
        if present.any():
            self._map.removed((i, self._payloads[i]) for i in id_arr[present].tolist())
        self._payloads.update(zip(id_list, pays, strict=True))
        self._map.added(zip(id_list, pays, strict=True))
        self._maybe_grow()
        self._maybe_compact()

    def remove(self, ids: Sequence[int], *, missing_ok: bool = False) -> None:
        id_arr = as_ids(ids)
        known = np.fromiter((i in self._payloads for i in id_arr.tolist()), bool, len(id_arr))
        if not known.all() and not missing_ok:
            raise unknown_ids_error(id_arr[~known])
        id_arr = id_arr[known]
        if len(id_arr):
            self._engine.remove(id_arr)
            self._map.removed([(i, self._payloads.pop(i)) for i in id_arr.tolist()])
            self._maybe_compact()

    def search(
        self, query: np.ndarray, k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]:
        k = check_k(k)
        q = normalized(query, self._dim, what="queries")
        conditions = parse_filters(filters)
        n = self.count()
        if n == 0 or not len(q):
            return [[] for _ in range(len(q))]
        if not conditions:
            return self._hits(*self._engine.search(q, min(k, n)))
        allowed = self._map.ids(conditions)
        if not len(allowed):
            return [[] for _ in range(len(q))]
        kk = min(k, len(allowed))
        if len(allowed) == n:  # the filter keeps everything
            return self._hits(*self._engine.search(q, kk))
        found = self._engine.search(q, kk, allowed=allowed)
        if self._engine.kind != "flat" and (found[1] < 0).any():
            # IVF probed too few lists, or the HNSW walk missed a scattered subset: look at
            # every allowed vector instead (all lists on IVF, exact over the subset on HNSW).
            found = self._engine.search(q, kk, allowed=allowed, exhaustive=True)
        return self._hits(*found)

    def _hits(self, scores: np.ndarray, ids: np.ndarray) -> list[list[Hit]]:
        payloads = self._payloads
        return [
            [
                Hit(i, s, dict(payloads[i]))
                for s, i in zip(row_s.tolist(), row_i.tolist(), strict=True)
                if i in payloads  # FAISS pads a short row with -1
            ]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    # --- growth, compaction, rebuild ---------------------------------------------------------
    def _target_kind(self, n: int) -> str:
        if self.requested_kind == "auto":
            return "ivf" if n > self.flat_threshold else "flat"
        # A trained layout needs a sample: below min_train vectors stay exact.
        return self.requested_kind if n >= self.min_train else "flat"

    def _new_engine(self, kind: str, sample: np.ndarray, expected_n: int | None = None) -> Engine:
        if kind == "flat":
            return FlatEngine(self._dim)
        eng: IvfEngine | HnswEngine
        if kind == "ivf":
            eng = IvfEngine(self._dim, self.codec, self.nprobe)
        else:
            eng = HnswEngine(
                self._dim, self.codec, self.hnsw_m, self.ef_construction, self.ef_search
            )
        try:
            eng.train(sample, expected_n)
        except RuntimeError as e:
            raise VectorIndexError(f"FAISS training failed: {e}") from e
        return eng

    def _maybe_grow(self) -> None:
        if self._engine.kind == "flat" and self._target_kind(self.count()) != "flat":
            self._rebuild_engine(self._target_kind(self.count()))

    def _maybe_compact(self) -> None:
        dead = getattr(self._engine, "n_dead", 0)
        if dead and dead > self.compact_ratio * self._engine.ntotal:
            self.compact()

    def compact(self) -> None:
        """Rebuild the layout from the live vectors: drops HNSW tombstones, re-trains IVF lists.

        Run it after large deletions or once the catalog has grown ~10x since the index was
        trained. Vectors are read back from the index, so a compressed layout is re-encoded from
        its decoded vectors; ``rebuild`` from the catalog's originals is the lossless path.
        """
        self._rebuild_engine(self._target_kind(self.count()))

    def _rebuild_engine(self, kind: str) -> None:
        parts = list(self._engine.vectors())
        ids = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
        vecs = np.vstack([p[1] for p in parts]) if parts else np.empty((0, self._dim), np.float32)
        if len(vecs):
            vecs = normalized(vecs, self._dim)
        self._engine = self._fill(kind, ids, vecs)
        log.info("FAISS index now %s with %d vectors", kind, len(ids))

    def _fill(self, kind: str, ids: np.ndarray, vecs: np.ndarray) -> Engine:
        rng = np.random.default_rng(0)
        wanted = min(MAX_TRAIN, 40 * IvfEngine.nlist_for(len(vecs)))
        sample_n = min(len(vecs), max(self.min_train, wanted))
        sample = vecs[rng.choice(len(vecs), sample_n, replace=False)] if len(vecs) else vecs
        eng = self._new_engine(kind, sample)
        for s in range(0, len(ids), 65536):
            eng.add(ids[s : s + 65536], vecs[s : s + 65536])
        return eng

    def train(self, sample: np.ndarray, expected_n: int | None = None) -> None:
        """Build the large layout now from a sample, sized for ``expected_n`` vectors.

        For bulk loads: train once on a representative sample (e.g. 100k), then ``add`` in
        chunks, instead of letting ``auto`` train on whatever crossed the threshold first.
        Existing vectors are moved into the new layout.
        """
        if self.requested_kind == "flat":
            return  # exact search has nothing to train
        kind = "ivf" if self.requested_kind == "auto" else self.requested_kind
        sample = normalized(sample, self._dim, what="training vectors")
        parts = list(self._engine.vectors()) if self.count() else []
        self._engine = self._new_engine(kind, sample, expected_n)
        for ids, vecs in parts:
            self._engine.add(ids, normalized(vecs, self._dim))

    def rebuild(self, items: Iterable[tuple[int, np.ndarray, Payload | None]]) -> None:
        """Replace everything with ``items`` (the catalog's originals), choosing the layout anew."""
        ids, vecs, pays = [], [], []
        for id_, vec, payload in items:
            ids.append(id_)
            vecs.append(np.asarray(vec, dtype=np.float32).reshape(-1))
            pays.append(payload or {})
        matrix = np.vstack(vecs) if vecs else np.empty((0, self._dim), np.float32)
        id_arr, matrix, pays = check_batch(ids, matrix, pays, self._dim)
        self._engine = self._fill(self._target_kind(len(id_arr)), id_arr, matrix)
        self._payloads = dict(zip(id_arr.tolist(), pays, strict=True))
        self._map.reset(self._payloads)

    # --- persistence ---------------------------------------------------------------------------
    def save(self) -> None:
        """Write a new generation and commit it atomically; the previous one stays until then."""
        if self.path is None:
            raise VectorIndexError("this index has no path; give one to create_index to save it")
        files = self._engine.to_files()
        files["payloads"] = json.dumps({str(k): v for k, v in self._payloads.items()}).encode()
        meta = {
            "format": FORMAT,
            "dim": self._dim,
            "kind": self._engine.kind,
            "requested_kind": self.requested_kind,
            "codec": self.codec,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "flat_threshold": self.flat_threshold,
            "count": self.count(),
        }
        persist.commit(self.path, files, meta)

    def close(self) -> None:
        """Nothing to release: an embedded index is plain memory until ``save``."""

    def __repr__(self) -> str:
        return f"FaissIndex(dim={self._dim}, kind={self.kind}, n={self.count()}, path={self.path})"
