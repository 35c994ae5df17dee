"""Ingest in-process: generated feed end to end, failures with reasons, a stage that crashes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from pipeline_helpers import jpeg_bytes
from sqlalchemy import func, select

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.catalog.schema import ImageRow, ProductRow, StageState
from modiste.config import Settings
from modiste.errors import ConfigError
from modiste.imaging.store import ImageStore
from modiste.pipeline import stages as stage_registry
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.stages import Outcome, StageContext, get_stages

BAD = [("corrupt", "img/corrupt.jpg"), ("missing", "img/missing.jpg"), ("text", "img/notes.jpg")]


def add_bad_files(feed: Path) -> None:
    good = jpeg_bytes((1, 2, 3))
    (feed.parent / "img" / "corrupt.jpg").write_bytes(good[: len(good) // 2])
    (feed.parent / "img" / "notes.jpg").write_text("not a photo, just notes")


def store_files(settings: Settings) -> list[Path]:
    return [p for p in settings.images_dir.rglob("*") if p.is_file()]


def table_counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (ProductRow, ImageRow, StageState)
        )


def test_end_to_end_with_failures(settings: Settings, db: Database, make_feed) -> None:  # type: ignore[no-untyped-def]
    feed = make_feed(8, extra=BAD)
    add_bad_files(feed)
    import_feed(db, feed)
    summary = run_ingest(settings, db, stages=["store"])
    (store,) = summary.stages
    assert (store.done, store.failed, store.skipped) == (16, 3, 0)
    with db.session() as s:
        images = {Path(i.source).name: i for i in s.scalars(select(ImageRow))}
        status = catalog_status(s)
    assert "truncated" in images["corrupt.jpg"].error
    assert "file not found" in images["missing.jpg"].error
    assert "not an image" in images["notes.jpg"].error
    assert images["missing.jpg"].error.startswith(images["missing.jpg"].source)
    front = images["p0-front.jpg"]
    assert (front.status, front.width, front.height, front.format) == ("stored", 48, 64, "JPEG")
    assert ImageStore(settings.images_dir).get(front.content_hash) == jpeg_bytes((0, 90, 200))
    assert status["images"] == {"total": 19, "pending": 0, "stored": 16, "failed": 3}
    assert status["stages"] == {"store:done": 16, "store:failed": 3}
    assert sum(status["failures_by_reason"].values()) == 3
    assert status["failures_by_reason"]["file not found or unreadable"] == 1
    # 16 stored images, two of which share their bytes with another product's image
    hashes = {i.content_hash for i in images.values() if i.status == "stored"}
    assert len(hashes) == 14
    assert len(store_files(settings)) == 14
    # a second run has nothing to do
    again = run_ingest(settings, db, stages=["store"])
    assert (again.stages[0].done, again.stages[0].failed) == (0, 0)
    assert table_counts(db) == (11, 19, 19)


def test_retry_failed(settings: Settings, db: Database, make_feed) -> None:  # type: ignore[no-untyped-def]
    feed = make_feed(2, extra=BAD[1:2])
    import_feed(db, feed)
    assert run_ingest(settings, db, stages=["store"]).stages[0].failed == 1
    (feed.parent / "img" / "missing.jpg").write_bytes(jpeg_bytes((7, 7, 7)))
    assert run_ingest(settings, db, stages=["store"]).stages[0].done == 0  # failures are kept
    summary = run_ingest(settings, db, stages=["store"], retry_failed=True)
    assert (summary.stages[0].done, summary.stages[0].failed) == (1, 0)
    with db.session() as s:
        assert catalog_status(s)["images"]["stored"] == 5


def test_unknown_stage(settings: Settings, db: Database) -> None:
    with pytest.raises(ConfigError, match="unknown stage"):
        run_ingest(settings, db, stages=["nope"])
    assert "store" in [s.name for s in get_stages()]


def test_stage_crash_midway_then_rerun_completes(
    settings: Settings,
    db: Database,
    make_feed,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings.model_copy(update={"ingest_chunk_size": 4})
    import_feed(db, make_feed(10))  # 20 images: chunks of 4
    original = get_stages(["store"])[0]
    calls: list[int] = []

    def crashing(ctx: StageContext, ids: Sequence[int]) -> dict[int, Outcome]:
        calls.append(len(ids))
        if len(calls) == 3:
            raise RuntimeError("worker died")
        return original.run(ctx, ids)

    monkeypatch.setitem(
        stage_registry._STAGES, "store", dataclasses.replace(original, run=crashing)
    )
    with pytest.raises(RuntimeError, match="worker died"):
        run_ingest(settings, db, stages=["store"])
    with db.session() as s:
        assert catalog_status(s)["stages"] == {"store:done": 8}  # two chunks committed
    monkeypatch.setitem(stage_registry._STAGES, "store", original)
    summary = run_ingest(settings, db, stages=["store"])
    assert summary.stages[0].done == 12  # only what was left
    with db.session() as s:
        status = catalog_status(s)
        pairs = s.execute(select(StageState.image_id, StageState.stage)).all()
    assert status["images"]["stored"] == 20 and status["stages"] == {"store:done": 20}
    assert len(pairs) == len(set(pairs)) == 20
    assert table_counts(db) == (10, 20, 20)
    assert not list(settings.resolved_data_dir.rglob(".tmp-*"))


def test_limit(settings: Settings, db: Database, make_feed) -> None:  # type: ignore[no-untyped-def]
    import_feed(db, make_feed(4))
    assert run_ingest(settings, db, stages=["store"], limit=3).stages[0].done == 3
    assert run_ingest(settings, db, stages=["store"]).stages[0].done == 5


def test_removed_image_takes_its_stage_rows_along(
    settings: Settings, db: Database, make_feed
) -> None:  # type: ignore[no-untyped-def]
    feed = make_feed(2)
    import_feed(db, feed)
    run_ingest(settings, db, stages=["store"])
    assert table_counts(db) == (2, 4, 4)
    feed.write_text(feed.read_text().replace(",img/p1-back.jpg", ","))
    report = import_feed(db, feed)
    assert (report.updated, report.images_removed) == (1, 1)
    assert table_counts(db) == (2, 3, 3)  # no orphan stage row for the removed image
