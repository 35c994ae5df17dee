"""Temp files of a killed run go at the start of the next ingest, even one with nothing to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modiste.catalog.db import Database
from modiste.catalog.schema import ImageRow, ProductRow, Seller, StageState
from modiste.config import Settings
from modiste.imaging.store import ImageStore
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.leftovers import sweep_leftovers


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"partial")
    return path


def _layout(settings: Settings) -> tuple[list[Path], list[Path]]:
    """Leftovers of a killed writer, and files that must stay (live writers, committed data)."""
    data, dead, live = settings.resolved_data_dir, _dead_pid(), os.getpid()
    index = data / "index" / "visual"
    _touch(index / "manifest.json").write_text(json.dumps({"generation": 3, "files": {}}))
    gone = [
        _touch(data / "images" / "ab" / "cd" / f".tmp-{dead}-x1.jpg"),  # a garment crop
        _touch(data / "thumbs" / "256" / f".tmp-{dead}-x2.jpg"),
        _touch(data / "index" / f".tmp-{dead}-x3.json"),  # visual.json
        _touch(data / "regulations" / f".tmp-{dead}-x4.yaml"),
        _touch(data / "cache" / "onnx" / f"embedder.{dead}.tmp"),
        _touch(index / "vectors-000004.bin"),  # a save killed before its manifest
        _touch(index / ".manifest.json.4.tmp"),
    ]
    kept = [
        _touch(data / "images" / "ab" / "cd" / f".tmp-{live}-y1.jpg"),  # being written now
        _touch(data / "cache" / "onnx" / f"embedder.{live}.tmp"),
        _touch(index / "vectors-000003.bin"),  # committed
        _touch(index / "vectors-000002.bin"),  # previous generation: a reader may be opening it
        _touch(data / "images" / "ab" / "cd" / "abcd1234"),
    ]
    return gone, kept


def test_sweep_removes_only_dead_writers_and_uncommitted_generations(settings: Settings) -> None:
    gone, kept = _layout(settings)
    assert sweep_leftovers(settings) == len(gone)
    assert [p for p in gone if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert sweep_leftovers(settings) == 0


def test_every_ingest_sweeps_even_with_no_pending_images(settings: Settings, db: Database) -> None:
    """The store stage used to sweep only when it had images to fetch: a crop's temp file from
    a killed embed stayed for good."""
    gone, kept = _layout(settings)
    summary = run_ingest(settings, db, stages=["store"])
    assert [(s.name, s.done) for s in summary.stages] == [("store", 0)]
    assert [p for p in gone if p.exists()] == []
    assert all(p.exists() for p in kept)


def test_unreadable_manifest_leaves_the_index_alone(settings: Settings) -> None:
    index = settings.resolved_data_dir / "index" / "visual"
    _touch(index / "manifest.json").write_text("{not json")
    bin_file = _touch(index / "vectors-000009.bin")
    sweep_leftovers(settings)
    assert bin_file.exists()


def test_the_image_store_is_walked_only_after_a_killed_holder(
    settings: Settings, db: Database
) -> None:
    """The store is the one large tree: a clean previous run left nothing there to find."""
    run_ingest(settings, db, stages=["store"])  # finishes: the lock file says so
    crop = _touch(settings.images_dir / "ab" / "cd" / f".tmp-{_dead_pid()}-crop.jpg")
    thumb = _touch(settings.resolved_data_dir / "thumbs" / "256" / f".tmp-{_dead_pid()}-t.jpg")
    # A crop stored by an embed stage killed before its garments were committed: a whole file
    # no row names. And a named one, which stays.
    store = ImageStore(settings.images_dir)
    orphan = store.path_for(store.put(b"crop of a garment never committed"))
    named = store.put(b"an original")
    image = ImageRow(position=0, source="x", content_hash=named, status="stored")
    with db.session() as s:
        s.add(ProductRow(seller=Seller(name="s"), external_id="p", title="P", images=[image]))
        s.flush()
        s.add(StageState(image_id=image.id, stage="store", status="done"))  # nothing to fetch
    run_ingest(settings, db, stages=["store"])
    assert crop.exists() and not thumb.exists()  # written by no ingest: not looked for
    assert orphan.exists()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom modiste.config import Settings\n"
         "from modiste.pipeline.lock import ingest_lock\n"
         "with ingest_lock(Settings(data_dir=sys.argv[1])):\n"
         "    print('locked', flush=True)\n    time.sleep(60)\n",
         str(settings.resolved_data_dir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    holder.kill()  # an ingest killed mid-run
    holder.wait()
    run_ingest(settings, db, stages=["store"])
    assert not crop.exists() and not orphan.exists()
    assert store.exists(named)


def test_sweep_benchmark_smoke(tmp_path: Path) -> None:
    from benchmarks.ingest_sweep import main

    result = main(["--n", "30", "--repeat", "1", "--json", str(tmp_path / "r.json")])
    assert result["images"] == 30 and result["store_folders"] > 1
    assert json.loads((tmp_path / "r.json").read_text())["deep_s"] >= 0
