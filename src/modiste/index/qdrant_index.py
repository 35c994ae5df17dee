"""Qdrant backend: local mode (``path`` or in memory) for tests and small sites, a server URL for
production. Same verbs and the same error family as FAISS: every client failure is re-raised as
:class:`VectorIndexError`, and inputs go through the shared checks in ``base`` first so a
dimension mismatch or unknown id reads the same on both backends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import VectorIndexError
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
from modiste.index.filters import Condition, parse_filters

log = logging.getLogger(__name__)
DEFAULT_COLLECTION = "modiste"


@contextmanager
def _wrapped(action: str) -> Iterator[None]:
    """One error family: whatever qdrant-client raises becomes a VectorIndexError."""
    try:
        yield
    except VectorIndexError:
        raise
    except Exception as e:  # the client raises many unrelated types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VectorIndexError(f"qdrant {action} failed: {first}") from e


class QdrantIndex:
    """A :class:`~modiste.index.base.VectorIndex` over one Qdrant collection."""

    def __init__(
        self,
        dim: int,
        path: Path | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = 256,
        hnsw_ef: int | None = None,
        shard_number: int | None = None,
        replication_factor: int | None = None,
    ) -> None:
        from qdrant_client import QdrantClient, models

        if not isinstance(dim, int) or dim < 1:
            raise VectorIndexError(f"dim must be a positive integer, got {dim!r}")
        self._dim, self.path, self.url, self.collection = dim, ensure_dir(path), url, collection
        self.batch_size, self.hnsw_ef = batch_size, hnsw_ef
        # Only used when this creates the collection (a cluster: spread and copied over nodes).
        self.shard_number, self.replication_factor = shard_number, replication_factor
        self._m = models
        with _wrapped("connect"):
            if url:
                self.client = QdrantClient(url=url, api_key=api_key)
            else:
                location = str(self.path) if self.path else ":memory:"
                self.client = (
                    QdrantClient(path=location) if self.path else QdrantClient(location=location)
                )
        with _wrapped("open collection"):
            if self.client.collection_exists(collection):
                params = self.client.get_collection(collection).config.params.vectors
                size = getattr(params, "size", None)
                if size != dim:
                    self.client.close()
                    raise VectorIndexError(
                        f"dimension mismatch: index at {self._where} has dim {size}, "
                        f"asked for {dim}"
                    )
            else:
                self._create()

    @property
    def _where(self) -> str:
        return self.url or str(self.path or ":memory:")

    def _create(self) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config=self._m.VectorParams(size=self._dim, distance=self._m.Distance.COSINE),
            shard_number=self.shard_number,
            replication_factor=self.replication_factor,
        )

    def recreate(self) -> None:
        """Drop every point by making the collection again (``modiste index rebuild``)."""
        with _wrapped("recreate collection"):
            self.client.delete_collection(self.collection)
            self._create()

    @classmethod
    def open(cls, path: Path, dim: int | None = None, **kw: Any) -> QdrantIndex:
        """Reopen a local collection; with no ``dim``, read it from the stored collection."""
        if dim is None:
            dim = _stored_dim(Path(path), kw.get("collection", DEFAULT_COLLECTION))
        return cls(dim, Path(path), **kw)

    load = open

    @property
    def dim(self) -> int:
        return self._dim

    def count(self) -> int:
        with _wrapped("count"):
            return int(self.client.count(self.collection, exact=True).count)

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, id_: object) -> bool:
        if not isinstance(id_, (int, np.integer)) or int(id_) < 0:
            return False
        return bool(self._existing([int(id_)]))

    def payload_items(self) -> Iterator[tuple[int, Payload]]:
        offset = None
        while True:
            with _wrapped("scroll"):
                points, offset = self.client.scroll(
                    self.collection, limit=1024, offset=offset, with_payload=True,
                    with_vectors=False,
                )  # fmt: skip
            for p in points:
                yield int(p.id), dict(p.payload or {})
            if offset is None:
                return

    def _existing(self, ids: list[int]) -> set[int]:
        with _wrapped("retrieve"):
            points = self.client.retrieve(
                self.collection, ids=ids, with_payload=False, with_vectors=False
            )
        return {int(p.id) for p in points}

    def add(
        self, ids: Sequence[int], vectors: np.ndarray, payloads: Sequence[Payload] | None = None
    ) -> None:
        id_arr, vecs, pays = check_batch(ids, vectors, payloads, self._dim)
        for s in range(0, len(id_arr), self.batch_size):
            batch = self._m.Batch(
                ids=id_arr[s : s + self.batch_size].tolist(),
                vectors=vecs[s : s + self.batch_size].tolist(),
                payloads=pays[s : s + self.batch_size],
            )
            with _wrapped("upsert"):  # upsert replaces vector and payload: re-add semantics
                self.client.upsert(self.collection, points=batch, wait=True)

    def remove(self, ids: Sequence[int], *, missing_ok: bool = False) -> None:
        wanted = as_ids(ids).tolist()
        if not wanted:
            return
        known = self._existing(wanted)
        if len(known) != len(wanted) and not missing_ok:
            raise unknown_ids_error(set(wanted) - known)
        if known:
            with _wrapped("delete"):
                self.client.delete(
                    self.collection,
                    points_selector=self._m.PointIdsList(points=sorted(known)),
                    wait=True,
                )

    def search(
        self, query: np.ndarray, k: int = 10, filters: Filters | None = None
    ) -> list[list[Hit]]:
        k = check_k(k)
        q = normalized(query, self._dim, what="queries")
        flt = self._filter(parse_filters(filters))
        params = self._m.SearchParams(hnsw_ef=self.hnsw_ef) if self.hnsw_ef else None
        requests = [
            self._m.QueryRequest(
                query=row.tolist(), limit=k, filter=flt, with_payload=True, params=params
            )
            for row in q
        ]
        if not requests:
            return []
        with _wrapped("search"):
            responses = self.client.query_batch_points(self.collection, requests=requests)
        return [
            [Hit(int(p.id), float(p.score), dict(p.payload or {})) for p in r.points]
            for r in responses
        ]

    def _filter(self, conditions: list[Condition]) -> Any:
        if not conditions:
            return None
        m = self._m
        must = []
        for c in conditions:
            if c.kind == "eq":
                must.append(m.FieldCondition(key=c.key, match=m.MatchValue(value=c.value)))
            elif c.kind == "any":
                must.append(m.FieldCondition(key=c.key, match=m.MatchAny(any=c.value)))
            else:
                must.append(m.FieldCondition(key=c.key, range=m.Range(**c.value)))
        return m.Filter(must=must)

    def rebuild(self, items: Iterable[tuple[int, np.ndarray, Payload | None]]) -> None:
        """Drop the collection and upsert ``items`` in batches."""
        with _wrapped("rebuild"):
            self.client.delete_collection(self.collection)
            self._create()
        ids: list[int] = []
        vecs: list[np.ndarray] = []
        pays: list[Payload] = []
        for id_, vec, payload in items:
            ids.append(id_)
            vecs.append(np.asarray(vec, dtype=np.float32).reshape(-1))
            pays.append(payload or {})
            if len(ids) == 4096:
                self.add(ids, np.vstack(vecs), pays)
                ids, vecs, pays = [], [], []
        if ids:
            self.add(ids, np.vstack(vecs), pays)

    def save(self) -> None:
        """Nothing to do: Qdrant persists every acknowledged write (local mode and server)."""
        if self.path is None and self.url is None:
            raise VectorIndexError("this index has no path; give one to create_index to save it")

    def close(self) -> None:
        with _wrapped("close"):
            self.client.close()

    def __repr__(self) -> str:
        return f"QdrantIndex(dim={self._dim}, collection={self.collection}, at={self._where})"


def remote_dim(url: str, collection: str, api_key: str | None = None) -> int | None:
    """The dimension of a collection on a Qdrant server; None when it does not exist yet."""
    from qdrant_client import QdrantClient

    with _wrapped("open"):
        client = QdrantClient(url=url, api_key=api_key)
        try:
            if not client.collection_exists(collection):
                return None
            params = client.get_collection(collection).config.params.vectors
            return int(getattr(params, "size", 0))
        finally:
            client.close()


def _stored_dim(path: Path, collection: str) -> int:
    from qdrant_client import QdrantClient

    if not path.is_dir():
        raise VectorIndexError(f"no index at {path} and no dim given to create one")
    with _wrapped("open"):
        client = QdrantClient(path=str(path))
        try:
            if not client.collection_exists(collection):
                raise VectorIndexError(f"no index at {path} and no dim given to create one")
            params = client.get_collection(collection).config.params.vectors
            return int(getattr(params, "size", 0))
        finally:
            client.close()
