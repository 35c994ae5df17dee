"""The ingest runner: every registered stage, in order, over the images that still need it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import delete, exists, select, update

from modiste.catalog.db import Database
from modiste.catalog.schema import ImageRow, StageState, utcnow
from modiste.config import Settings
from modiste.errors import ConfigError
from modiste.imaging.store import open_image_store
from modiste.pipeline.leftovers import remove_unreferenced_files, sweep_leftovers
from modiste.pipeline.lock import ingest_lock
from modiste.pipeline.stages import Outcome, Stage, StageContext, get_stages

ENGINES = ("local", "ray", "legacy")


class Progress(Protocol):
    """What the runner reports to; the CLI implements it with a rich progress bar."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


@dataclass
class StageSummary:
    name: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass
class IngestSummary:
    stages: list[StageSummary] = field(default_factory=list)
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # image id, stage, reason
    reports: dict[str, object] = field(default_factory=dict)  # what stages handed back

    def as_dict(self) -> dict[str, object]:
        return {
            "stages": [vars(s) for s in self.stages],
            "failures": [{"image_id": i, "stage": st, "reason": r} for i, st, r in self.failures],
        }


def pending_image_ids(db: Database, stage: Stage, *, limit: int | None = None) -> list[int]:
    """Images with no recorded outcome for ``stage`` whose prerequisite stages are done."""
    with db.session() as session:
        query = select(ImageRow.id).where(
            ~exists().where(StageState.image_id == ImageRow.id, StageState.stage == stage.name)
        )
        for prerequisite in stage.after:
            query = query.where(
                exists().where(
                    StageState.image_id == ImageRow.id,
                    StageState.stage == prerequisite,
                    StageState.status == "done",
                )
            )
        query = query.order_by(ImageRow.id)
        if limit:
            query = query.limit(limit)
        return list(session.scalars(query))


def reset_failed(db: Database, stage_names: Sequence[str]) -> int:
    """Forget failures so the next run retries them."""
    with db.session() as session:
        result = session.execute(
            delete(StageState).where(
                StageState.stage.in_(list(stage_names)), StageState.status == "failed"
            )
        )
        if "store" in stage_names:
            session.execute(
                update(ImageRow)
                .where(ImageRow.status == "failed")
                .values(status="pending", error=None)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _record(db: Database, stage: str, outcomes: dict[int, Outcome]) -> None:
    """Store the chunk's outcomes, for the images still in the catalog.

    An image deleted through the API while its chunk ran has no row to point to any more:
    recording it would fail the foreign key and kill the whole ingest.
    """
    with db.session() as session:
        now = utcnow()
        # A no-op write first takes SQLite's write lock (PostgreSQL: the rows' locks), so no
        # delete slips in between the check and the inserts (updated_at given: left as it is).
        ids = list(outcomes)
        touch = update(ImageRow).where(ImageRow.id.in_(ids))
        session.execute(touch.values(updated_at=ImageRow.updated_at))
        present = set(session.scalars(select(ImageRow.id).where(ImageRow.id.in_(ids))))
        for image_id, outcome in outcomes.items():
            if image_id not in present:
                continue
            session.merge(
                StageState(
                    image_id=image_id,
                    stage=stage,
                    status=outcome.status,
                    error=outcome.error,
                    updated_at=now,
                )
            )


def run_ingest(
    settings: Settings,
    db: Database,
    *,
    stages: Sequence[str] | None = None,
    retry_failed: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
    lock_wait_s: float | None = None,
    on_lock_wait: Callable[[str], None] | None = None,
    engine: str = "local",
) -> IngestSummary:
    """Run stages in order; commit after each chunk so an interrupted run can resume.

    The data folder's ingest lock is held throughout (two ingests would interleave their
    writes); ``lock_wait_s`` (default ``settings.ingest_lock_wait_s``) bounds the wait for
    another ingest. Temp files of a killed run are removed first, whatever stages are pending.

    ``engine`` is one of :data:`ENGINES` (see :class:`StageContext`).

    Raises:
        IngestBusyError: Another ingest still runs on this data folder after the wait.
        ConfigError: An unknown stage or engine.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown ingest engine {engine!r}; valid: {', '.join(ENGINES)}")
    if engine == "ray":
        from modiste.pipeline.ray_engine import ray_available

        if not ray_available():  # before the lock and any work
            raise ConfigError("the Ray engine needs Ray: pip install 'modiste[ray]'")
    selected = get_stages(stages)  # an unknown stage name is refused before any waiting
    with ingest_lock(settings, wait_s=lock_wait_s, on_wait=on_lock_wait) as held:
        sweep_leftovers(settings, deep=not held.previous_finished)
        if not held.previous_finished:  # killed: files written, their rows never committed
            remove_unreferenced_files(settings, db)
        return _run_stages(
            settings,
            db,
            selected,
            retry_failed=retry_failed,
            limit=limit,
            progress=progress,
            engine=engine,
        )


def _run_stages(
    settings: Settings,
    db: Database,
    selected: Sequence[Stage],
    *,
    retry_failed: bool,
    limit: int | None,
    progress: Progress | None,
    engine: str = "local",
) -> IngestSummary:
    if retry_failed:
        reset_failed(db, [s.name for s in selected])
    store = open_image_store(settings)
    store.check()  # an unreachable object store stops here, before any image is marked failed
    ctx = StageContext(settings=settings, db=db, store=store, engine=engine)
    summary = IngestSummary()
    for stage in selected:
        if stage.prepare:
            stage.prepare(ctx)
        ids = pending_image_ids(db, stage, limit=limit)
        stage_summary = StageSummary(stage.name)
        summary.stages.append(stage_summary)
        if not ids and stage.product_level is None:
            continue
        started = time.perf_counter()
        if progress:
            progress.start(stage.name, len(ids))
        chunk = stage.chunk_size or settings.ingest_chunk_size
        try:
            if ids and stage.setup:
                stage.setup(ctx)
            for handled, outcomes in _chunks(ctx, stage, ids, chunk):
                _record(db, stage.name, outcomes)
                for image_id, outcome in outcomes.items():
                    if outcome.status == "done":
                        stage_summary.done += 1
                    elif outcome.status == "failed":
                        stage_summary.failed += 1
                        summary.failures.append((image_id, stage.name, outcome.error or ""))
                    else:
                        stage_summary.skipped += 1
                if progress:
                    progress.advance(handled)
            if stage.product_level:
                stage.product_level(ctx)
        finally:
            if stage.teardown:
                stage.teardown(ctx)
            if progress:
                progress.finish()
        stage_summary.seconds = round(time.perf_counter() - started, 3)
    summary.reports = dict(ctx.reports)
    return summary


def _chunks(
    ctx: StageContext, stage: Stage, ids: Sequence[int], chunk: int
) -> Iterator[tuple[int, dict[int, Outcome]]]:
    """(images handled, their outcomes) per chunk, from this process or from Ray workers."""
    if ctx.engine == "ray" and stage.compute is not None:
        from modiste.pipeline.ray_engine import run_stage

        yield from run_stage(ctx, stage, ids, chunk)
        return
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        yield len(part), stage.run(ctx, part)
