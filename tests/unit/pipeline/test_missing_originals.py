"""Stored images whose file is gone: status says so, and the next ingest fetches them again."""

from __future__ import annotations

from pathlib import Path

from pipeline_helpers import jpeg_bytes
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.catalog.schema import FingerprintRow, ImageRow, StageState
from modiste.config import Settings
from modiste.imaging.store import ImageStore
from modiste.pipeline.ingest import run_ingest


def _status(db: Database, store: ImageStore) -> dict:  # type: ignore[type-arg]
    with db.session() as s:
        return catalog_status(s, original_exists=store.exists)


def _lose_files(db: Database, store: ImageStore, n: int) -> list[int]:
    """Delete the originals of the first ``n`` distinct stored images (a copy made mid-ingest)."""
    with db.session() as s:
        rows = s.execute(select(ImageRow.id, ImageRow.content_hash).order_by(ImageRow.id)).all()
    lost = {digest for _, digest in rows[:n]}
    for digest in lost:
        store.path_for(digest).unlink()
    return [i for i, digest in rows if digest in lost]


def test_missing_originals_are_counted_refetched_and_downstream_retried(
    settings: Settings,
    db: Database,
    make_feed,  # type: ignore[no-untyped-def]
) -> None:
    store = ImageStore(settings.images_dir)
    import_feed(db, make_feed(4))
    run_ingest(settings, db, stages=["store"])
    lost = _lose_files(db, store, 2)
    # the tester's copy: files missing, rows "stored", later stages fail on them
    dedupe = run_ingest(settings, db, stages=["dedupe"]).stages[0]
    assert dedupe.failed == len(lost)

    status = _status(db, store)
    assert status["images"]["failed"] == 0  # the store stage did not fail...
    assert status["failed_images"] == len(lost)  # ...but these images are not fine
    assert sum(status["failures_by_stage"]["dedupe"].values()) == len(lost)
    assert status["missing_originals"] == {"images": len(lost), "image_ids": lost}

    summary = run_ingest(settings, db, stages=["store", "dedupe"])
    store_run, dedupe_run = summary.stages
    assert (store_run.done, dedupe_run.done, dedupe_run.failed) == (len(lost), len(lost), 0)
    status = _status(db, store)
    assert status["missing_originals"]["images"] == 0
    assert status["failed_images"] == 0 and status["failures_by_stage"] == {}
    with db.session() as s:
        assert s.scalar(select(ImageRow.status).where(ImageRow.id == lost[0])) == "stored"
    # nothing left to do afterwards
    again = run_ingest(settings, db, stages=["store", "dedupe"])
    assert [(st.done, st.failed) for st in again.stages] == [(0, 0), (0, 0)]


def test_refetched_photo_that_changed_runs_later_stages_again(
    settings: Settings,
    db: Database,
    make_feed,  # type: ignore[no-untyped-def]
) -> None:
    store = ImageStore(settings.images_dir)
    feed = make_feed(1)
    import_feed(db, feed)
    run_ingest(settings, db, stages=["store", "dedupe"])
    (image_id,) = _lose_files(db, store, 1)
    with db.session() as s:
        source = Path(s.scalar(select(ImageRow.source).where(ImageRow.id == image_id)))
    source.write_bytes(jpeg_bytes((250, 250, 0)))  # the link now serves another photo

    summary = run_ingest(settings, db, stages=["store", "dedupe"])
    assert [(st.name, st.done) for st in summary.stages] == [("store", 1), ("dedupe", 1)]
    with db.session() as s:
        row = s.get(ImageRow, image_id)
        fingerprint = s.get(FingerprintRow, image_id)
        stages = dict(
            s.execute(
                select(StageState.stage, StageState.status).where(StageState.image_id == image_id)
            ).all()
        )
    assert row is not None and fingerprint is not None
    assert store.exists(row.content_hash or "")
    assert fingerprint.sha256 == row.content_hash  # computed again from the new bytes
    assert stages == {"store": "done", "dedupe": "done"}


def test_refetch_that_fails_is_a_store_failure_with_its_reason(
    settings: Settings,
    db: Database,
    make_feed,  # type: ignore[no-untyped-def]
) -> None:
    store = ImageStore(settings.images_dir)
    import_feed(db, make_feed(1))
    run_ingest(settings, db, stages=["store"])
    (image_id,) = _lose_files(db, store, 1)
    with db.session() as s:
        Path(s.scalar(select(ImageRow.source).where(ImageRow.id == image_id))).unlink()
    assert run_ingest(settings, db, stages=["store"]).stages[0].failed == 1
    status = _status(db, store)
    assert status["images"]["failed"] == 1 and status["missing_originals"]["images"] == 0
    assert status["failures_by_stage"] == {"store": {"file not found or unreadable": 1}}
