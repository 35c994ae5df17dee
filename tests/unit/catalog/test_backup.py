"""Backup and restore: a round trip, refusals that damage nothing, and a backup under writes."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from modiste.catalog.backup import create_backup, read_manifest, restore_backup
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ImageRow
from modiste.config import Settings
from modiste.errors import BackupError
from modiste.imaging.store import ImageStore, atomic_write
from modiste.index.faiss_index import FaissIndex
from modiste.pipeline.ingest import run_ingest
from modiste.search.indexing import index_dir

DIM = 16


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), (i % 256, i // 256 % 256, 77)).save(buf, format="PNG")
    return buf.getvalue()


def write_feed(folder: Path, start: int, n: int) -> Path:
    """``n`` products with one distinct local PNG each, ids from ``start``."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = ["id,title,product_type,price,image_link"]
    for i in range(start, start + n):
        (folder / "img" / f"{i}.png").write_bytes(png(i))
        lines.append(f"p{i},Linen shirt {i},Shirts,{10 + i}.00 EUR,img/{i}.png")
    feed = folder / f"feed-{start}.csv"
    feed.write_text("\n".join(lines) + "\n")
    return feed


def build_catalog(settings: Settings, tmp_path: Path, n: int = 6) -> Database:
    db = Database(settings)
    db.migrate()
    import_feed(db, write_feed(tmp_path / "shop", 0, n), seller="shop")
    run_ingest(settings, db, stages=["store", "dedupe"])
    data = settings.resolved_data_dir
    index = FaissIndex(DIM, index_dir(settings))
    vectors = np.random.default_rng(0).normal(size=(n, DIM)).astype("float32")
    index.add(list(range(1, n + 1)), vectors, [{"seller": "shop"}] * n)
    index.save()
    index.save()  # a second generation: only the committed one belongs in the backup
    atomic_write(data / "index" / "visual.json", b'{"space": "test", "dim": 16}\n')
    atomic_write(data / "regulations" / "mine.yaml", b"name: mine\norder: [front]\n")
    atomic_write(data / "models" / "shots_test.npz", b"weights")
    atomic_write(data / "corrections" / "front" / "abc.jpg", b"jpeg")
    atomic_write(data / "thumbs" / "256" / "x.jpg", b"thumb")  # a cache: not backed up
    atomic_write(data / "cache" / "onnx" / "m.onnx", b"onnx")  # a cache: not backed up
    (data / "regulations" / ".tmp-1-left.yaml").write_bytes(b"half")  # a killed writer's
    return db


def data_files(folder: Path) -> dict[str, bytes]:
    skip = ("thumbs/", "cache/", "modiste.db", "index/visual/", "ingest.lock")
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file()
        and not p.relative_to(folder).as_posix().startswith(skip)
        and not p.name.startswith(".tmp-")
    }


def dump(db_file: Path) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        return list(conn.iterdump())


def search(folder: Path) -> list[list[tuple[int, float]]]:
    index = FaissIndex.open(folder / "index" / "visual")
    queries = np.random.default_rng(1).normal(size=(3, DIM)).astype("float32")
    return [[(h.id, round(h.score, 5)) for h in hits] for hits in index.search(queries, 4)]


def test_round_trip_restores_catalog_files_and_index(settings: Settings, tmp_path: Path) -> None:
    build_catalog(settings, tmp_path)
    source = settings.resolved_data_dir
    report = create_backup(settings, tmp_path / "backup")
    assert (report.images, report.missing_images, report.database) == (6, 0, "sqlite")
    manifest = read_manifest(tmp_path / "backup")
    assert manifest["schema_version"] and manifest["modiste_version"]
    assert manifest["index_generations"] == {"index/visual": 2}
    listed = set(manifest["files"])
    assert "catalog/modiste.db" in listed and "data/regulations/mine.yaml" in listed
    assert not [f for f in listed if f.startswith(("data/thumbs", "data/cache"))]
    assert not [f for f in listed if "/.tmp-" in f or f.endswith("-000001.bin")]

    fresh = Settings(data_dir=tmp_path / "restored")
    restored = restore_backup(fresh, tmp_path / "backup")
    target = fresh.resolved_data_dir
    assert (restored.files, restored.needs_upgrade, restored.replaced) == (
        len(listed),
        False,
        False,
    )
    assert data_files(target) == data_files(source)
    assert dump(target / "modiste.db") == dump(source / "modiste.db")
    assert search(target) == search(source)
    Database(fresh).ensure_ready()  # the restored catalog opens at this Modiste's schema
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders


def test_corrupt_or_partial_backup_is_refused_and_target_untouched(
    settings: Settings, tmp_path: Path
) -> None:
    build_catalog(settings, tmp_path, n=3)
    backup = tmp_path / "backup"
    create_backup(settings, backup)
    target = tmp_path / "target"
    (target / "regulations").mkdir(parents=True)
    (target / "regulations" / "keep.yaml").write_text("name: keep\n")
    before = data_files(target)
    fresh = Settings(data_dir=target)

    image = next(backup.glob("data/images/*/*/*"))
    good = image.read_bytes()
    image.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(BackupError, match=r"corrupt: data/images/.* does not match"):
        restore_backup(fresh, backup, force=True)
    image.unlink()
    with pytest.raises(BackupError, match=r"incomplete: data/images/.* is missing"):
        restore_backup(fresh, backup, force=True)
    image.write_bytes(good)

    manifest = json.loads((backup / "manifest.json").read_text())
    evil = {**manifest, "files": {"data/../../escape.txt": {"sha256": "0" * 64, "bytes": 1}}}
    (backup / "manifest.json").write_text(json.dumps(evil))
    with pytest.raises(BackupError, match="invalid entry"):
        restore_backup(fresh, backup, force=True)
    (backup / "manifest.json").write_text(json.dumps({**manifest, "schema_version": "9999"}))
    with pytest.raises(BackupError, match="unknown to this Modiste"):
        restore_backup(fresh, backup, force=True)
    (backup / "manifest.json").unlink()
    with pytest.raises(BackupError, match="not a complete backup"):
        restore_backup(fresh, backup, force=True)
    assert data_files(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "data", "shop", "target"]


def test_non_empty_target_needs_force_then_is_replaced(settings: Settings, tmp_path: Path) -> None:
    build_catalog(settings, tmp_path, n=2)
    create_backup(settings, tmp_path / "backup")
    with pytest.raises(BackupError, match="not empty"):
        create_backup(settings, tmp_path / "backup")  # never over another backup
    with pytest.raises(BackupError, match="outside the data folder"):
        create_backup(settings, settings.resolved_data_dir / "b")
    with pytest.raises(BackupError, match="--force"):
        restore_backup(settings, tmp_path / "backup")  # the live folder itself
    other = tmp_path / "other"
    (other / "stale").mkdir(parents=True)
    (other / "stale" / "old.txt").write_text("old")
    report = restore_backup(Settings(data_dir=other), tmp_path / "backup", force=True)
    assert report.replaced and not (other / "stale").exists()
    assert (other / "modiste.db").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not restore_backup(Settings(data_dir=empty), tmp_path / "backup").replaced


def test_backup_while_ingest_and_index_saves_run_stays_consistent(
    settings: Settings, tmp_path: Path
) -> None:
    build_catalog(settings, tmp_path, n=4)
    stop = threading.Event()
    errors: list[BaseException] = []
    # Index saves and stored batches so far: each backup waits for both kinds of new writes, however
    # slow the host (waiting for saves alone let all three backups fall inside one batch's saves).
    saves, batches = [0], [0]
    busy = settings.model_copy(update={"ingest_chunk_size": 2})

    def ingest_forever() -> None:
        """Import, store, then save the index a few times: what an ingest's stages do."""
        db = Database(busy)
        index = FaissIndex.open(index_dir(settings))
        rng = np.random.default_rng(2)
        try:
            start = 100
            while not stop.is_set():
                import_feed(db, write_feed(tmp_path / "more", start, 6), seller="more")
                run_ingest(busy, db, stages=["store"])
                batches[0] += 1
                for i in range(start, start + 6):
                    index.add([i], rng.normal(size=(1, DIM)).astype("float32"), [{}])
                    index.save()
                    saves[0] += 1
                start += 6
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            db.dispose()

    threads = [threading.Thread(target=ingest_forever)]
    for t in threads:
        t.start()
    stored_counts, generations = [], []
    try:
        seen, seen_batches = 0, 0
        for n in range(3):
            deadline = time.monotonic() + 60
            while (
                (saves[0] <= seen or batches[0] <= seen_batches)
                and not errors
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            seen, seen_batches = saves[0], batches[0]
            backup = tmp_path / f"backup-{n}"
            report = create_backup(settings, backup)
            assert report.missing_images == 0
            generations.append(report.index_generations["index/visual"])
            with sqlite3.connect(backup / "catalog" / "modiste.db") as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                hashes = [
                    h
                    for (h,) in conn.execute(
                        "SELECT content_hash FROM images WHERE status = 'stored'"
                    )
                ]
            stored_counts.append(len(hashes))
            store = ImageStore(backup / "data" / "images")
            assert all(store.exists(h) for h in hashes)
            restored = Settings(data_dir=tmp_path / f"restored-{n}")
            restore_backup(restored, backup)  # every file matches the manifest
            assert FaissIndex.open(restored.resolved_data_dir / "index" / "visual").count() >= 4
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert stored_counts[-1] > stored_counts[0] >= 4  # the backups really ran during writes
    assert generations[-1] > generations[0] >= 2
    with Database(settings).session() as s:
        assert len(s.scalars(select(ImageRow.id)).all()) > stored_counts[0]


def test_postgres_without_pg_dump_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url="postgresql+psycopg://me:s3cret@127.0.0.1:9/c"
    )
    settings.resolved_data_dir.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    with pytest.raises(BackupError, match="pg_dump is not on PATH") as err:
        create_backup(settings, tmp_path / "backup")
    assert "s3cret" not in str(err.value)
    assert not (tmp_path / "backup").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no partial folder left


def test_backup_benchmark_smoke(tmp_path: Path) -> None:
    from benchmarks.backup_bench import main

    result = main(["--n", "20", "--kb", "1", "--json", str(tmp_path / "r.json")])
    assert result["restored_files"] == result["backup_files"] == 21
    assert json.loads((tmp_path / "r.json").read_text())["images"] == 20


def test_file_deleted_while_backing_up_is_left_out(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modiste.catalog.backup as backup_module

    build_catalog(settings, tmp_path, n=1)
    walk = backup_module._walk

    def walk_then_delete(folder: Path):  # type: ignore[no-untyped-def]
        for path in walk(folder):
            if path.name == "mine.yaml":
                path.unlink()  # a regulation deleted through the API meanwhile
            yield path

    monkeypatch.setattr(backup_module, "_walk", walk_then_delete)
    create_backup(settings, tmp_path / "backup")
    files = read_manifest(tmp_path / "backup")["files"]
    assert "data/regulations/mine.yaml" not in files and "data/models/shots_test.npz" in files
    restore_backup(Settings(data_dir=tmp_path / "restored"), tmp_path / "backup")
