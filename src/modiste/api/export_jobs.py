"""Channel exports as background jobs: the files in DATA_DIR/exports/<job id>, progress in memory.

An export reads the catalog and writes copies, so it runs in a thread like an ingest job, one at
a time (each decodes full-size photos). The folder outlives the server process: its report
can still be fetched by id after a restart, though the job's progress is gone.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modiste.api.jobs import Job, JobProgress
from modiste.api.problems import Conflict
from modiste.catalog.db import Database
from modiste.compliance.export import (
    FEED_FILE,
    REPORT_FILE,
    BytesStore,
    count_catalog_products,
    default_ocr,
    export_channel,
    prepare_out,
    products_from_catalog,
)
from modiste.compliance.measure import OcrLike
from modiste.compliance.profiles import Profile, list_profiles, load_profile
from modiste.config import Settings
from modiste.errors import NotFoundError

log = logging.getLogger(__name__)
PUBLIC_FAILURE = "the export failed; the server log has the details"
JOB_ID = re.compile(r"^[0-9a-f]{12}$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ExportJob(Job):
    profile: str = ""
    summary: dict[str, int] | None = None

    def snapshot(self) -> dict[str, Any]:
        out = super().snapshot()
        with self.lock:
            out.update(profile=self.profile, summary=self.summary)
        return out


class ExportJobs:
    """Starts export jobs, one at a time, and finds their files."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        store: BytesStore,
        *,
        ocr_factory: Callable[[], OcrLike | None] = default_ocr,
        keep: int = 50,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.ocr_factory = ocr_factory
        self.keep = keep
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self.settings.resolved_data_dir / "exports"

    def profile(self, name: str) -> Profile:
        """A shipped or saved profile by name only: a client never names a server file."""
        names = list_profiles(self.settings)
        if name not in names:
            raise NotFoundError(f"no profile {name!r}; known profiles: {', '.join(names)}")
        return load_profile(name, self.settings)

    def start(
        self,
        profile_name: str,
        *,
        base_url: str = "",
        allow_downscale: bool = False,
        product_ids: Sequence[int] | None = None,
    ) -> ExportJob:
        profile = self.profile(profile_name)  # an unknown name is a 404 now, not in the thread
        with self._lock:
            running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            if running:
                raise Conflict(f"export job {running[0].id} is still running")
            job = ExportJob(id=uuid.uuid4().hex[:12], kind="export", profile=profile.name)
            self._jobs[job.id] = job
            for old in list(self._jobs)[: max(0, len(self._jobs) - self.keep)]:
                self._jobs.pop(old)
        out = self.root / job.id

        def work() -> None:
            with job.lock:
                job.status, job.started_at = "running", _now()
            progress = JobProgress(job)
            try:
                prepare_out(out)
                progress.start("export", count_catalog_products(self.db, product_ids))
                products = products_from_catalog(self.db, self.store, product_ids=product_ids)
                report = export_channel(
                    products, profile, out, base_url=base_url, allow_downscale=allow_downscale,
                    ocr=self.ocr_factory(), max_pixels=self.settings.max_image_pixels,
                    progress=lambda _: progress.advance(1),
                )  # fmt: skip
                progress.finish()
                with job.lock:
                    job.summary, job.status = report.summary(), "finished"
            except Exception:  # reported through the job; details (paths, SQL) in the log only
                log.exception("export job %s failed", job.id)
                with job.lock:
                    job.status, job.error = "failed", PUBLIC_FAILURE
            finally:
                with job.lock:
                    job.finished_at, job.current_stage = _now(), None

        threading.Thread(target=work, name=f"export-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> ExportJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no export job {job_id!r}")
        return job

    def file(self, job_id: str, name: str) -> Path:
        """The report or feed of a finished export (also one from before a restart)."""
        if not JOB_ID.match(job_id) or name not in (REPORT_FILE, FEED_FILE):
            raise NotFoundError(f"no export job {job_id!r}")
        job = self._jobs.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            raise Conflict(f"export job {job_id} is still running; poll it until it finishes")
        path = self.root / job_id / name
        if not path.is_file():
            raise NotFoundError(f"export job {job_id!r} has no {name}")
        return path

    def report(self, job_id: str) -> dict[str, Any]:
        data = json.loads(self.file(job_id, REPORT_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
