"""FAISS-only behaviour: automatic layout choice, compression, tombstones, crash-safe saves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modiste.errors import VectorIndexError
from modiste.index import create_index, persist
from modiste.index.faiss_index import FaissIndex

DIM = 32


def clustered(n: int, seed: int = 0, centres: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, DIM))
    x = c[rng.integers(0, centres, n)] + 0.3 * rng.standard_normal((n, DIM))
    return x.astype(np.float32)


def exact_top(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(qn @ xn.T), axis=1)[:, :k]


def recall_at(idx: FaissIndex, x: np.ndarray, q: np.ndarray, k: int = 10) -> float:
    truth = exact_top(x, q, k)
    found = idx.search(q, k)
    return float(
        np.mean([len({h.id for h in f} & set(t)) / k for f, t in zip(found, truth, strict=True)])
    )


def test_auto_switches_from_flat_to_ivf_past_the_threshold():
    idx = FaissIndex(DIM, kind="auto", flat_threshold=1500)
    x = clustered(3000)
    idx.add(range(1000), x[:1000])
    assert idx.kind == "flat"
    idx.add(range(1000, 3000), x[1000:])
    assert idx.kind == "ivf" and idx.count() == 3000
    assert recall_at(idx, x, clustered(50, seed=1)) >= 0.9
    idx.remove([5])
    assert idx.count() == 2999 and all(h.id != 5 for h in idx.search(x[5], 5)[0])


def test_default_threshold_follows_the_dimension():
    assert FaissIndex(1280).flat_threshold == 128 * 2**20 // (4 * 1280)
    assert FaissIndex(256).flat_threshold == 128 * 2**20 // (4 * 256)


def test_explicit_kind_waits_for_a_training_sample():
    idx = FaissIndex(DIM, kind="hnsw", min_train=500)
    x = clustered(800)
    idx.add(range(400), x[:400])
    assert idx.kind == "flat"
    idx.add(range(400, 800), x[400:])
    assert idx.kind == "hnsw"


def test_compressed_codec_keeps_recall_and_shrinks_the_file(tmp_path: Path):
    x = clustered(4000)
    q = clustered(50, seed=2)
    sizes = {}
    for codec in ("Flat", "SQ6", "SQ4"):
        idx = FaissIndex(DIM, tmp_path / codec, kind="ivf", codec=codec, min_train=1000, nprobe=32)
        idx.add(range(len(x)), x)
        assert recall_at(idx, x, q) >= (0.99 if codec == "Flat" else 0.85)
        idx.save()
        sizes[codec] = sum(f.stat().st_size for f in (tmp_path / codec).glob("index-*"))
    assert sizes["SQ4"] < sizes["SQ6"] < sizes["Flat"] / 3


def test_hnsw_delete_uses_tombstones_then_compacts():
    idx = FaissIndex(DIM, kind="hnsw", min_train=100, codec="Flat", compact_ratio=0.5)
    x = clustered(400)
    idx.add(range(400), x)
    idx.remove(range(0, 100))
    eng = idx._engine
    assert eng.kind == "hnsw" and eng.n_dead == 100 and eng.ntotal == 400
    assert idx.count() == 300
    found = idx.search(x[:100], k=10)
    assert all(h.id >= 100 for row in found for h in row)
    # Re-adding an id tombstones its old vector instead of leaving two copies.
    idx.add([200], x[0:1])
    assert idx.search(x[0], 1)[0][0].id == 200 and idx._engine.n_dead == 101
    idx.remove(range(101, 200))  # 200 dead of 500 stored: still below the 0.5 ratio
    assert idx._engine.n_dead == 200
    idx.remove(range(201, 260))  # crosses the ratio: compacted automatically
    assert idx._engine.n_dead == 0 and idx._engine.ntotal == idx.count() == 142
    assert idx.search(x[0], 1)[0][0].id == 200


def test_hnsw_tombstones_survive_save_and_load(tmp_path: Path):
    idx = FaissIndex(DIM, tmp_path / "h", kind="hnsw", min_train=100, codec="Flat")
    x = clustered(300)
    idx.add(range(300), x)
    idx.remove([0, 1, 2])
    idx.save()
    again = FaissIndex.open(tmp_path / "h")
    assert again.kind == "hnsw" and again.count() == 297 and again._engine.n_dead == 3
    assert all(h.id > 2 for h in again.search(x[:3], 5)[0])


def test_selective_filter_on_ivf_falls_back_to_matching_ids():
    idx = FaissIndex(DIM, kind="ivf", min_train=500, nprobe=1, codec="Flat")
    x = clustered(2000)
    idx.add(range(2000), x, [{"shop": "rare" if i % 500 == 0 else "common"} for i in range(2000)])
    hits = idx.search(x[3], k=10, filters={"shop": "rare"})[0]
    assert sorted(h.id for h in hits) == [0, 500, 1000, 1500]


def test_crash_mid_save_leaves_the_previous_index_loadable(tmp_path: Path, monkeypatch):
    path = tmp_path / "idx"
    idx = create_index("faiss", DIM, path)
    x = clustered(100)
    idx.add(range(50), x[:50])
    idx.save()
    idx.add(range(50, 100), x[50:])
    calls = {"n": 0}
    real_write = persist.write_file

    def dying_write(p: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the payload file: half written, then the process "dies"
            p.write_bytes(data[: len(data) // 2])
            raise OSError("simulated crash")
        real_write(p, data)

    monkeypatch.setattr(persist, "write_file", dying_write)
    with pytest.raises(VectorIndexError, match="could not save"):
        idx.save()
    monkeypatch.undo()
    old = FaissIndex.open(path)
    assert old.count() == 50 and old.search(x[7], 1)[0][0].id == 7
    # The next successful save commits and clears the leftovers of the crashed one.
    idx.save()
    assert FaissIndex.open(path).count() == 100
    # Kept: the committed generation and the one before it (a reader that read the previous
    # manifest a moment ago is still opening its files); older ones and leftovers go.
    idx.add([100], x[:1])
    idx.save()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["generation"] == 3
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ["manifest.json", *manifest["files"].values(), "index-000002.bin", "payloads-000002.bin"]
    )


def test_crash_before_manifest_replace_keeps_old_generation(tmp_path: Path, monkeypatch):
    path = tmp_path / "idx"
    idx = create_index("faiss", DIM, path)
    idx.add([1, 2], clustered(2))
    idx.save()
    idx.add([3], clustered(1, seed=5))

    def boom(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(persist.os, "replace", boom)
    with pytest.raises(VectorIndexError):
        idx.save()
    monkeypatch.undo()
    assert FaissIndex.open(path).count() == 2


def test_open_errors(tmp_path: Path):
    with pytest.raises(VectorIndexError, match="no index"):
        FaissIndex.open(tmp_path / "nothing")
    with pytest.raises(VectorIndexError, match="unknown FAISS kind"):
        FaissIndex(DIM, kind="lsh")
    with pytest.raises(VectorIndexError, match="no path"):
        FaissIndex(DIM).save()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(VectorIndexError, match="corrupt"):
        FaissIndex.open(tmp_path / "bad")


def test_train_up_front_then_bulk_add_keeps_existing_vectors():
    idx = FaissIndex(DIM, kind="auto")
    x = clustered(3000)
    idx.add(range(10), x[:10])
    idx.train(x[:2000], expected_n=3000)
    assert idx.kind == "ivf" and idx.count() == 10
    idx.add(range(10, 3000), x[10:])
    assert idx.count() == 3000 and idx.search(x[3], 1)[0][0].id == 3
    flat = FaissIndex(DIM, kind="flat")
    flat.train(x[:2000])
    assert flat.kind == "flat"


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
@pytest.mark.parametrize("base", [0, 10**12])  # dense ids (bitmap selector) and sparse (hash set)
def test_filtered_search_is_exact_top_k_of_the_matching_ids(kind, base):
    idx = FaissIndex(DIM, kind=kind, min_train=500, nprobe=2, codec="Flat")
    x = clustered(3000)
    ids = np.arange(3000) + base
    idx.add(ids, x, [{"shop": ["a", "b", "c"][i % 3], "rank": i} for i in range(3000)])
    assert idx.kind == kind
    q = clustered(4, seed=1)
    for flt, ok in [
        ({"shop": "b"}, np.arange(3000) % 3 == 1),
        ({"shop": ["a", "c"], "rank": {"lt": 30}}, (np.arange(3000) % 3 != 1) & (ids - base < 30)),
    ]:
        found = idx.search(q, 10, filters=flt)
        for row, truth in zip(found, exact_top(x[ok], q, 10), strict=True):
            assert len(row) == 10
            if kind == "flat":  # approximate layouts need not agree on every neighbour
                assert [h.id for h in row] == ids[ok][truth].tolist()
            assert all(ok[h.id - base] for h in row)


def test_filters_survive_save_load_and_later_changes(tmp_path: Path):
    idx = FaissIndex(DIM, tmp_path / "idx")
    x = clustered(200)
    idx.add(range(200), x, [{"shop": "a" if i < 100 else "b"} for i in range(200)])
    assert len(idx.search(x[0], 200, filters={"shop": "a"})[0]) == 100  # map built now
    idx.save()
    again = FaissIndex.open(tmp_path / "idx")
    again.remove(range(10))
    again.add([150], x[150:151], [{"shop": "a"}])
    got = {h.id for h in again.search(x[0], 200, filters={"shop": "a"})[0]}
    assert got == set(range(10, 100)) | {150}
    assert 150 not in {h.id for h in again.search(x[0], 200, filters={"shop": "b"})[0]}
