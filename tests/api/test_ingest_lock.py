"""The API and a CLI ingest share the data folder's lock; job errors say nothing internal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from modiste.api.jobs import PUBLIC_FAILURE
from modiste.config import Settings
from modiste.pipeline.lock import IngestBusyError

from .support import assert_problem
from .test_duplicates_jobs_keys import wait_until

HOLD = (
    "import sys, time\n"
    "from modiste.config import Settings\n"
    "from modiste.pipeline.lock import ingest_lock\n"
    "with ingest_lock(Settings(data_dir=sys.argv[1])):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(120)\n"
)


@pytest.fixture
def cli_ingest(api_settings: Settings) -> Iterator[subprocess.Popen[str]]:
    """Another process (as `modiste ingest` would) holding the catalog's ingest lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(api_settings.resolved_data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait()


def test_ingest_job_refused_while_another_process_ingests_and_search_answers(
    client: TestClient, auth: dict[str, str], cli_ingest: subprocess.Popen[str]
) -> None:
    refused = client.post("/v1/jobs/ingest", json={"stages": ["store"]}, headers=auth)
    assert "another ingest" in assert_problem(refused, 409)["detail"]
    # Reads never wait for the lock: the shop keeps answering while an ingest runs.
    assert client.get("/v1/products", params={"limit": 2}).status_code == 200
    assert client.get("/v1/search/text", params={"q": "jacket"}).status_code == 200
    cli_ingest.kill()
    cli_ingest.wait()
    started = client.post("/v1/jobs/ingest", json={"stages": ["store"]}, headers=auth)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    job = wait_until(
        lambda: (j := client.get(f"/v1/jobs/{job_id}", headers=auth).json())["finished_at"] and j
    )
    assert job["status"] == "finished", job


def _job(client: TestClient, auth: dict[str, str], runner) -> dict:  # type: ignore[no-untyped-def]
    job = client.app.state.jobs.start_ingest(runner=runner)  # type: ignore[attr-defined]
    return wait_until(  # type: ignore[no-any-return]
        lambda: (j := client.get(f"/v1/jobs/{job.id}", headers=auth).json())["finished_at"] and j
    )


def test_a_failed_job_shows_a_neutral_message(
    client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the job showed the SQL statement and its parameters."""
    statement = "INSERT INTO garments (image_id, label) VALUES (?, ?)"

    def failing(*_args: object, **_kw: object) -> None:
        raise IntegrityError(statement, (7, "top"), Exception("UNIQUE constraint failed"))

    job = _job(client, auth, failing)
    assert (job["status"], job["error"]) == ("failed", PUBLIC_FAILURE)
    assert statement in caplog.text  # the details are in the server log

    def busy(*_args: object, **_kw: object) -> None:
        raise IngestBusyError("another ingest is running on this catalog (pid 12, since ...)")

    job = _job(client, auth, busy)
    assert job["error"].startswith("another ingest is running on this catalog")
