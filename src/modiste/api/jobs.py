"""Background ingest jobs: one thread per job, progress kept in memory per stage.

Jobs live as long as the server process; the durable record of what was done is the
``image_stages`` table, so a job lost to a restart is simply started again (ingest resumes).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modiste.api.problems import Conflict
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.errors import NotFoundError
from modiste.pipeline.lock import IngestBusyError, is_held

log = logging.getLogger(__name__)
PUBLIC_FAILURE = "the ingest failed; the server log has the details"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StageProgress:
    name: str
    total: int = 0
    processed: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass
class Job:
    id: str
    kind: str
    status: str = "queued"
    started_at: str | None = None
    finished_at: str | None = None
    current_stage: str | None = None
    stages: list[StageProgress] = field(default_factory=list)
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "status": self.status,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "current_stage": self.current_stage,
                "stages": [vars(s).copy() for s in self.stages],
                "error": self.error,
            }


class JobProgress:
    """The ingest runner's Progress protocol, writing into a Job."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def start(self, stage: str, total: int) -> None:
        with self.job.lock:
            self.job.current_stage = stage
            self.job.stages.append(StageProgress(stage, total=total))

    def advance(self, n: int) -> None:
        with self.job.lock:
            if self.job.stages:
                self.job.stages[-1].processed += n

    def finish(self) -> None:
        with self.job.lock:
            self.job.current_stage = None


class JobRegistry:
    """Starts ingest jobs (one at a time: stages share the database and the models)."""

    def __init__(self, settings: Settings, db: Database, keep: int = 50) -> None:
        self.settings = settings
        self.db = db
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start_ingest(
        self,
        *,
        stages: Sequence[str] | None = None,
        retry_failed: bool = False,
        limit: int | None = None,
        runner: Callable[..., Any] | None = None,
    ) -> Job:
        from modiste.pipeline.ingest import run_ingest
        from modiste.pipeline.stages import get_stages

        get_stages(stages)  # unknown stage names fail now, as a 400, not later in the thread
        with self._lock:
            running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            if running:
                raise Conflict(f"ingest job {running[0].id} is still running")
            if is_held(self.settings):  # a CLI ingest on the same data folder
                raise Conflict("another ingest (e.g. `modiste ingest`) is running on this catalog")
            job = Job(id=uuid.uuid4().hex[:12], kind="ingest")
            self._jobs[job.id] = job
            for old in list(self._jobs)[: max(0, len(self._jobs) - self.keep)]:
                self._jobs.pop(old)
        run = runner or run_ingest

        def work() -> None:
            with job.lock:
                job.status, job.started_at = "running", _now()
            try:
                summary = run(
                    self.settings,
                    self.db,
                    stages=list(stages) if stages else None,
                    retry_failed=retry_failed,
                    limit=limit,
                    progress=JobProgress(job),
                )
                with job.lock:
                    by_name = {s.name: s for s in job.stages}
                    for s in summary.stages:
                        p = by_name.get(s.name) or StageProgress(s.name)
                        if s.name not in by_name:
                            job.stages.append(p)
                        p.done, p.failed, p.skipped, p.seconds = (
                            s.done,
                            s.failed,
                            s.skipped,
                            s.seconds,
                        )
                    job.status = "finished"
            except IngestBusyError as e:  # says who holds the lock, nothing internal
                log.warning("ingest job %s: %s", job.id, e)
                with job.lock:
                    job.status, job.error = "failed", str(e)
            except Exception:  # reported through the job, never lost in the thread
                # Anyone may read a job: the details (SQL, paths) go to the log only.
                log.exception("ingest job %s failed", job.id)
                with job.lock:
                    job.status, job.error = "failed", PUBLIC_FAILURE
            finally:
                with job.lock:
                    job.finished_at, job.current_stage = _now(), None

        threading.Thread(target=work, name=f"ingest-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        return job

    def list(self) -> list[Job]:
        return list(reversed(self._jobs.values()))
