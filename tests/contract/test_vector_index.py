"""One contract, every backend: FAISS (each layout) and Qdrant local must behave the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modiste.errors import VectorIndexError
from modiste.index import Hit, VectorIndex, create_index, open_index

DIM = 16
BACKENDS = [
    pytest.param(("faiss", {}), id="faiss-auto"),
    pytest.param(
        ("faiss", {"kind": "ivf", "min_train": 64, "nprobe": 64, "codec": "Flat"}), id="faiss-ivf"
    ),
    pytest.param(("faiss", {"kind": "hnsw", "min_train": 64, "codec": "Flat"}), id="faiss-hnsw"),
    pytest.param(("qdrant", {}), id="qdrant-local"),
]


@pytest.fixture(params=BACKENDS)
def backend(request) -> tuple[str, dict]:
    return request.param


@pytest.fixture
def index(backend, tmp_path: Path):
    name, kw = backend
    idx = create_index(name, DIM, tmp_path / "idx", **kw)
    yield idx
    idx.close()


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def payload(i: int) -> dict:
    return {"category": ["top", "bottom", "dress"][i % 3], "seller": "abcd"[i % 4], "price": i}


def filled(index: VectorIndex, n: int = 200) -> np.ndarray:
    x = vectors(n)
    index.add(list(range(n)), x, [payload(i) for i in range(n)])
    return x


def test_satisfies_protocol(index):
    assert isinstance(index, VectorIndex)
    assert index.dim == DIM


def test_add_then_search_finds_itself_first_with_cosine_score(index):
    x = filled(index)
    assert index.count() == 200
    hits = index.search(x[:5], k=3)
    assert [h[0].id for h in hits] == [0, 1, 2, 3, 4]
    assert all(isinstance(h[0], Hit) and h[0].score == pytest.approx(1.0, abs=2e-3) for h in hits)
    assert hits[0][0].payload == payload(0)
    scores = [h.score for h in hits[0]]
    assert scores == sorted(scores, reverse=True)


def test_scores_are_cosine_whatever_the_norm(index):
    x = filled(index, 100)
    hit = index.search(x[7] * 42.0, k=1)[0][0]
    assert hit.id == 7 and hit.score == pytest.approx(1.0, abs=2e-3)


def test_remove_hides_ids_and_unknown_ids_raise(index):
    x = filled(index, 100)
    index.remove([3, 4])
    assert index.count() == 98 and 3 not in index and 5 in index
    assert all(h.id not in (3, 4) for h in index.search(x[3], k=20)[0])
    with pytest.raises(VectorIndexError, match="unknown ids"):
        index.remove([3])
    index.remove([3, 5], missing_ok=True)
    assert index.count() == 97


def test_readd_replaces_vector_and_payload(index):
    x = filled(index, 100)
    index.add([10], x[50:51], [{"category": "shoe"}])
    assert index.count() == 100
    top = index.search(x[50], k=2)[0]
    assert {h.id for h in top} == {10, 50}
    assert index.search(x[50], k=1, filters={"category": "shoe"})[0][0].id == 10


def test_payload_items_lists_every_id_with_its_payload(index):
    vecs = vectors(1500, seed=5)
    index.add(list(range(1500)), vecs, [{"n": i} for i in range(1500)])  # over a scroll page
    index.remove([7, 8])
    items = dict(index.payload_items())
    assert len(items) == 1498 and 7 not in items and items[1499] == {"n": 1499}


def test_filters_equality_membership_range(index):
    x = filled(index)
    for filt, ok in [
        ({"category": "top"}, lambda p: p["category"] == "top"),
        ({"seller": ["a", "b"]}, lambda p: p["seller"] in ("a", "b")),
        ({"price": {"gte": 10, "lte": 50}}, lambda p: 10 <= p["price"] <= 50),
        (
            {"category": "dress", "price": {"gt": 100}},
            lambda p: p["category"] == "dress" and p["price"] > 100,
        ),
    ]:
        hits = index.search(x[:3], k=10, filters=filt)
        for row in hits:
            assert len(row) == 10
            assert all(ok(h.payload) for h in row)
        # The filtered results are the true best matches among the allowed ids.
        allowed = [i for i in range(200) if ok(payload(i))]
        sims = (x[allowed] / np.linalg.norm(x[allowed], axis=1, keepdims=True)) @ (
            x[0] / np.linalg.norm(x[0])
        )
        best = {allowed[j] for j in np.argsort(-sims)[:5]}
        assert best <= {h.id for h in hits[0]}


def test_very_selective_filter_and_no_match(index):
    x = filled(index)
    hits = index.search(x[0], k=5, filters={"price": {"gte": 197}})[0]
    assert sorted(h.id for h in hits) == [197, 198, 199]
    assert index.search(x[0], k=5, filters={"category": "coat"}) == [[]]


def test_bad_filters_raise(index):
    filled(index, 20)
    for bad in [{"price": {"between": 3}}, {"price": {"gte": "x"}}, {"x": 1.5}]:
        with pytest.raises(VectorIndexError):
            index.search(vectors(1)[0], k=3, filters=bad)


def test_empty_index_and_k_larger_than_count(index):
    assert index.count() == 0
    assert index.search(vectors(2), k=5) == [[], []]
    filled(index, 7)
    hits = index.search(vectors(1, seed=3), k=50)[0]
    assert sorted(h.id for h in hits) == list(range(7))


def test_dimension_and_input_errors(index):
    filled(index, 10)
    with pytest.raises(VectorIndexError, match="dimension mismatch"):
        index.add([100], np.ones((1, DIM + 1), np.float32))
    with pytest.raises(VectorIndexError, match="dimension mismatch"):
        index.search(np.ones(DIM - 1, np.float32), k=1)
    with pytest.raises(VectorIndexError, match="ids"):
        index.add([1, 2], vectors(3))
    with pytest.raises(VectorIndexError, match="non-negative"):
        index.add([-1], vectors(1))
    with pytest.raises(VectorIndexError, match="zero"):
        index.add([100], np.zeros((1, DIM), np.float32))
    with pytest.raises(VectorIndexError, match="k must"):
        index.search(vectors(1), k=0)
    assert index.count() == 10


def test_persistence_round_trip(backend, tmp_path: Path):
    name, kw = backend
    path = tmp_path / "idx"
    idx = create_index(name, DIM, path, **kw)
    x = filled(idx)
    idx.remove([1])
    before = idx.search(x[:4], k=5)
    idx.save()
    idx.close()
    again = open_index(name, path)
    assert again.dim == DIM and again.count() == 199 and 1 not in again
    after = again.search(x[:4], k=5)
    assert [[h.id for h in r] for r in after] == [[h.id for h in r] for r in before]
    assert after[0][0].payload == payload(0)
    again.close()
    with pytest.raises(VectorIndexError, match="dimension mismatch"):
        create_index(name, DIM * 2, path, **kw)


def test_rebuild_from_scratch(index):
    filled(index, 50)
    y = vectors(30, seed=9)
    index.rebuild((1000 + i, y[i], {"category": "top"}) for i in range(30))
    assert index.count() == 30 and 0 not in index and 1000 in index
    assert index.search(y[4], k=1)[0][0].id == 1004


def test_unknown_backend_lists_valid_names(tmp_path):
    with pytest.raises(VectorIndexError, match="faiss, qdrant"):
        create_index("annoy", DIM, tmp_path)


def test_corrupt_files_raise_the_index_error(backend, tmp_path: Path):
    name, kw = backend
    path = tmp_path / "idx"
    idx = create_index(name, DIM, path, **kw)
    filled(idx, 50)
    idx.save()
    idx.close()
    for f in path.rglob("*"):
        if f.is_file() and not f.name.startswith(".lock"):
            f.write_bytes(b"\x00garbage" * 3)
    with pytest.raises(VectorIndexError):
        idx = open_index(name, path)
        idx.search(vectors(1), k=1)
