"""/v1/health and /v1/jobs: is the service up, and background ingest with progress."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import text

from modiste import __version__
from modiste.api.deps import AdminKey, DbDep, JobsDep
from modiste.api.ratelimit import rate_limited
from modiste.api.schemas import HealthPublic, IngestJobIn, JobPublic
from modiste.catalog.repository import catalog_status

router = APIRouter(tags=["system"])


@router.get("/health", response_model=HealthPublic)
def health(db: DbDep) -> HealthPublic:
    """Database reachable, catalog counts, version. Public: load balancers call it."""
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
            data = catalog_status(session)
        counts = {
            "sellers": data["sellers"],
            "products": data["products"],
            "images": data["images"],
        }
        return HealthPublic(status="ok", version=__version__, database="ok", counts=counts)
    except Exception as e:  # health must answer, not fail: the failure is the answer
        return HealthPublic(
            status="degraded", version=__version__, database=f"error: {type(e).__name__}", counts={}
        )


@router.post(
    "/jobs/ingest",
    response_model=JobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["jobs"],
    dependencies=[rate_limited("ingest job")],
)
def start_ingest(body: IngestJobIn, jobs: JobsDep, _: AdminKey) -> JobPublic:
    """Run the ingest stages in the background; poll GET /v1/jobs/{id} for progress."""
    job = jobs.start_ingest(stages=body.stages, retry_failed=body.retry_failed, limit=body.limit)
    return JobPublic(**job.snapshot())


@router.get("/jobs", response_model=list[JobPublic], tags=["jobs"])
def list_jobs(jobs: JobsDep, _: AdminKey) -> list[JobPublic]:
    return [JobPublic(**j.snapshot()) for j in jobs.list()]


@router.get("/jobs/{job_id}", response_model=JobPublic, tags=["jobs"])
def get_job(job_id: str, jobs: JobsDep, _: AdminKey) -> JobPublic:
    return JobPublic(**jobs.get(job_id).snapshot())
