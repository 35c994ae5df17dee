"""MODISTE_VECTOR_INDEX_URL puts the catalog's visual index on a Qdrant server (by URL only).

No server here: qdrant-client's in-memory mode stands in for it behind the same client class,
so the test sees what the code asks the server for (URL, key, shards, replicas) and that the
index works through it; nothing is written under the data folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modiste.config import Settings
from modiste.search.indexing import index_dir, open_built_index, open_visual_index

qdrant_client = pytest.importorskip("qdrant_client")


class _Embedder:
    name, dim = "test-space", 8


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every client made talks to one in-memory 'server'; returns the calls made to it."""
    shared = qdrant_client.QdrantClient(location=":memory:")
    calls: list[tuple[Any, ...]] = []
    create = shared.create_collection

    def create_collection(name: str, **kw: Any) -> Any:
        calls.append(("create", name, kw.get("shard_number"), kw.get("replication_factor")))
        return create(name, **kw)

    def client(url: str | None = None, api_key: str | None = None, **_: Any) -> Any:
        calls.append(("connect", url, api_key))
        return shared

    monkeypatch.setattr(shared, "create_collection", create_collection)
    monkeypatch.setattr(shared, "close", lambda: None)
    monkeypatch.setattr(qdrant_client, "QdrantClient", client)
    return calls


def test_url_selects_a_sharded_replicated_qdrant_collection(
    tmp_path: Path, server: list[tuple[Any, ...]]
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        vector_index_url="http://qdrant:6333",
        qdrant_api_key="k",
        qdrant_collection="shop",
        qdrant_shards=4,
        qdrant_replication_factor=2,
    )
    assert open_built_index(settings) is None  # nothing built on the server yet
    index = open_visual_index(settings, _Embedder())  # type: ignore[arg-type]
    assert type(index).__name__ == "QdrantIndex"
    assert ("connect", "http://qdrant:6333", "k") in server
    assert ("create", "shop", 4, 2) in server
    index.add([7], np.ones((1, 8), dtype=np.float32), [{"product_id": 1}])

    # Another replica, which never built anything itself, finds it on the server.
    other = Settings(data_dir=tmp_path / "replica", vector_index_url="http://qdrant:6333",
                     qdrant_api_key="k", qdrant_collection="shop")  # fmt: skip
    built = open_built_index(other)
    assert built is not None and built.dim == 8 and built.count() == 1
    assert not index_dir(settings).exists() and not index_dir(other).exists()

    rebuilt = open_visual_index(settings, _Embedder(), fresh=True)  # type: ignore[arg-type]
    assert rebuilt.count() == 0 and [c for c in server if c[0] == "create"][-1] == (
        "create", "shop", 4, 2
    )  # fmt: skip


def test_default_stays_faiss_in_the_data_folder(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    settings = Settings(data_dir=tmp_path / "data")
    index = open_visual_index(settings, _Embedder())  # type: ignore[arg-type]
    assert type(index).__name__ == "FaissIndex"
