"""POST /v1/exports: a channel export of the demo catalog as a job, its report and its feed."""

from __future__ import annotations

import csv
import io
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

import modiste.api.export_jobs as export_jobs
from modiste.catalog.api_keys import create_key

from .support import assert_problem


@pytest.fixture(autouse=True)
def no_ocr(client: TestClient) -> None:
    client.app.state.exports.ocr_factory = lambda: None  # type: ignore[attr-defined]


def _wait(client: TestClient, job_id: str, auth: dict[str, str]) -> dict[str, Any]:
    for _ in range(1800):  # 3 min: a busy shared host is slow, an idle one takes seconds
        job: dict[str, Any] = client.get(f"/v1/exports/{job_id}", headers=auth).json()
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"export {job_id} did not finish: {job}")


def test_export_job_writes_the_files_report_and_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = {"profile": "amazon", "base_url": "https://cdn.example.com/amazon"}
    started = client.post("/v1/exports", json=body, headers=auth)
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["id"], auth)
    assert job["status"] == "finished" and job["error"] is None, job
    assert job["profile"] == "amazon" and job["stages"][0]["name"] == "export"
    products = client.get("/v1/products", params={"limit": 1}).json()["total"]
    assert job["summary"]["products"] == products == job["stages"][0]["processed"]
    report = client.get(job["report_url"], headers=auth).json()
    assert report["profile"] == "amazon" and len(report["products"]) == products
    folder = client.app.state.settings.resolved_data_dir / "exports" / job["id"]  # type: ignore[attr-defined]
    exported = [i for p in report["products"] for i in p["images"]]
    assert exported and all((folder / i["file"]).is_file() for i in exported)
    assert any(p["needs_person"] or any(i["needs_person"] for i in p["images"])
               for p in report["products"])  # fmt: skip
    feed = client.get(job["feed_url"], headers=auth)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "text/tab-separated-values"
    )
    rows = list(csv.DictReader(io.StringIO(feed.text), delimiter="\t"))
    assert len(rows) == products
    first = next(r for r in rows if r["image_link"])
    assert first["image_link"].startswith("https://cdn.example.com/amazon/")


def test_export_needs_a_write_key_and_a_known_profile(
    client: TestClient, auth: dict[str, str]
) -> None:
    assert_problem(client.post("/v1/exports", json={"profile": "amazon"}), 401)
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        _, read_key = create_key(s, "reader", "read")
    assert_problem(
        client.post("/v1/exports", json={"profile": "amazon"}, headers={"X-API-Key": read_key}),
        403,
    )
    for name in ("nope", "../../../etc/passwd", "/etc/hosts.yaml"):
        problem = assert_problem(
            client.post("/v1/exports", json={"profile": name}, headers=auth), 404
        )
        assert "amazon" in problem["detail"]  # the names a client may use
    bad_url = {"profile": "amazon", "base_url": "javascript:alert(1)"}
    assert_problem(client.post("/v1/exports", json=bad_url, headers=auth), 422)
    assert_problem(client.get("/v1/exports/0123456789ab/report", headers=auth), 404)
    assert_problem(client.get("/v1/exports/..%2F..%2Fx/report", headers=auth), 404)
    assert_problem(client.get("/v1/exports/not-a-job/feed", headers=auth), 422)


def test_one_export_at_a_time_and_a_failure_says_nothing_internal(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    def blocked() -> None:
        gate.wait(30)
        raise RuntimeError("/srv/secret/modiste.db: disk I/O error")

    client.app.state.exports.ocr_factory = blocked  # type: ignore[attr-defined]
    first = client.post("/v1/exports", json={"profile": "zalando"}, headers=auth)
    assert first.status_code == 202
    assert_problem(client.post("/v1/exports", json={"profile": "amazon"}, headers=auth), 409)
    assert_problem(client.get(first.json()["report_url"], headers=auth), 409)
    gate.set()
    job = _wait(client, first.json()["id"], auth)
    assert job["status"] == "failed" and job["error"] == export_jobs.PUBLIC_FAILURE
    assert "secret" not in client.get(f"/v1/exports/{job['id']}", headers=auth).text
