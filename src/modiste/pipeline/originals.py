"""Stored images whose original file is gone are fetched again by the store stage.

A data folder copied mid-ingest (files before the database), or a disk that lost files, has
rows marked stored whose file is not in the image store. Every later stage fails on them, and
``--retry-failed`` cannot help because store counts as done. So before store picks its images,
such rows go back to pending and their store outcome is forgotten, with the later stages'
failed or skipped outcomes (most likely caused by the missing file): this ingest fetches them
again from their feed link and retries what failed. Outcomes recorded as done stay, since they
were computed from bytes with the same content hash; if the bytes fetched again differ, the
later stages' outcomes are forgotten too, so they run again on the new photo.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from sqlalchemy import delete, or_, select, update

from modiste.catalog.repository import missing_originals
from modiste.catalog.schema import ImageRow, StageState
from modiste.imaging.store import ImageStore
from modiste.pipeline.stages import StageContext

log = logging.getLogger(__name__)
REFETCH = "store.refetch"  # ctx.cache key: image id -> content hash before the re-fetch
_BATCH = 500  # ids per IN (...) clause


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), _BATCH):
        yield ids[i : i + _BATCH]


def requeue_missing_originals(ctx: StageContext) -> None:
    """Put stored images without their file back in the store stage's queue."""
    store = ctx.store
    assert isinstance(store, ImageStore)  # StageContext types it loosely (no import cycle)
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        missing = missing_originals(session, store.exists_checker())
        if not missing:
            return
        before: dict[int, str | None] = {}
        for part in _batches(missing):
            before.update(
                session.execute(
                    select(ImageRow.id, ImageRow.content_hash).where(ImageRow.id.in_(part))
                )
                .tuples()
                .all()
            )
            session.execute(
                delete(StageState).where(
                    StageState.image_id.in_(part),
                    or_(StageState.stage == "store", StageState.status != "done"),
                )
            )
            session.execute(
                update(ImageRow).where(ImageRow.id.in_(part)).values(status="pending", error=None)
            )
    ctx.cache[REFETCH] = before
    log.warning(
        "%d stored images have no file in the image store: fetching them again", len(before)
    )


def forget_outcomes_of_changed(ctx: StageContext) -> None:
    """After store: a re-fetched image whose bytes changed runs every later stage again."""
    before = ctx.cache.pop(REFETCH, None)
    if not isinstance(before, dict) or not before:
        return
    ids = sorted(before)
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        for part in _batches(ids):
            now = session.execute(
                select(ImageRow.id, ImageRow.content_hash).where(
                    ImageRow.id.in_(part), ImageRow.status == "stored"
                )
            ).tuples()
            changed = [i for i, digest in now if digest != before[i]]
            if changed:
                session.execute(
                    delete(StageState).where(
                        StageState.image_id.in_(changed), StageState.stage != "store"
                    )
                )
