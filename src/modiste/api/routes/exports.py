"""/v1/exports: a sales channel's galleries exported as a background job, and its report."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, field_validator

from modiste.api.export_jobs import ExportJobs
from modiste.api.ratelimit import rate_limited
from modiste.api.schemas import StageProgressPublic, _In
from modiste.api.security import WriteKey
from modiste.compliance.export import FEED_FILE

router = APIRouter(tags=["exports"])
JobId = Annotated[str, Path(pattern="^[0-9a-f]{12}$", description="An export job's id.")]


def get_exports(request: Request) -> ExportJobs:
    return request.app.state.exports  # type: ignore[no-any-return]


ExportsDep = Annotated[ExportJobs, Depends(get_exports)]


class ExportJobIn(_In):
    profile: str = Field(max_length=100, description="A shipped or saved profile name.")
    base_url: str = Field(
        default="", max_length=500, description="http(s) address the folder will be served at."
    )
    allow_downscale: bool = False
    product_ids: list[int] | None = Field(default=None, max_length=10_000)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if value.strip() and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError("must be an http(s) address")
        return value.strip()


class ExportJobPublic(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "finished", "failed"]
    profile: str
    started_at: str | None
    finished_at: str | None
    current_stage: str | None
    stages: list[StageProgressPublic]
    error: str | None
    summary: dict[str, int] | None = None
    report_url: str
    feed_url: str


def _public(snapshot: dict[str, Any]) -> ExportJobPublic:
    base = f"/v1/exports/{snapshot['id']}"
    return ExportJobPublic(**snapshot, report_url=f"{base}/report", feed_url=f"{base}/feed")


@router.post(
    "/exports",
    response_model=ExportJobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[rate_limited("export job")],
)
def start_export(body: ExportJobIn, exports: ExportsDep, _: WriteKey) -> ExportJobPublic:
    """Export the catalog for a channel profile in the background; poll the job, then fetch
    its report (what was fixed, what needs a person) and its Google-Merchant feed."""
    job = exports.start(
        body.profile, base_url=body.base_url, allow_downscale=body.allow_downscale,
        product_ids=body.product_ids,
    )  # fmt: skip
    return _public(job.snapshot())


@router.get("/exports/{job_id}", response_model=ExportJobPublic)
def get_export(job_id: JobId, exports: ExportsDep, _: WriteKey) -> ExportJobPublic:
    return _public(exports.get(job_id).snapshot())


@router.get("/exports/{job_id}/report")
def export_report(job_id: JobId, exports: ExportsDep, _: WriteKey) -> dict[str, Any]:
    """The export's report.json: per product the files, the fixes and what needs a person."""
    return exports.report(job_id)


@router.get("/exports/{job_id}/feed", response_class=FileResponse)
def export_feed(job_id: JobId, exports: ExportsDep, _: WriteKey) -> FileResponse:
    """The Google-Merchant feed (TSV) whose image links point at the exported files."""
    return FileResponse(
        exports.file(job_id, FEED_FILE), media_type="text/tab-separated-values",
        filename=f"export-{job_id}.tsv",
    )  # fmt: skip
