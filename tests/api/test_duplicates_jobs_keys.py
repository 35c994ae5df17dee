"""Duplicate review, background ingest jobs, API keys, health, public-read switch."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from modiste.api import create_app
from modiste.api.jobs import JobRegistry
from modiste.api.problems import Conflict
from modiste.catalog.api_keys import create_key, list_keys, revoke_key, verify_key
from modiste.pipeline.ingest import IngestSummary, StageSummary

from .support import assert_problem


def wait_until(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy; a loaded CI host gets time, not luck."""
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s")
        time.sleep(0.02)
    return result


def test_duplicates_list_confirm_split(client: TestClient, auth: dict[str, str]) -> None:
    # Ingest's dedupe stage found the one offer group of the demo: the studio jacket and its
    # resale by the second shop (same photos, other price).
    page = client.get("/v1/duplicates").json()
    assert page["total"] == 1
    gid = page["items"][0]["id"]
    assert page["items"][0]["kind"] == "offer"
    members = page["items"][0]["members"]
    assert {m["product"]["seller"] for m in members} == {"Luma Studio", "Second-hand Shop"}
    assert_problem(client.post(f"/v1/duplicates/{gid}/confirm"), 401)
    assert (
        client.post(f"/v1/duplicates/{gid}/confirm", headers=auth).json()["status"] == "confirmed"
    )
    assert client.get("/v1/duplicates", params={"status": "open"}).json()["total"] == 0
    assert client.post(f"/v1/duplicates/{gid}/split", headers=auth).json()["status"] == "split"
    assert_problem(client.post("/v1/duplicates/999/split", headers=auth), 404)
    assert_problem(client.get("/v1/duplicates", params={"status": "weird"}), 422)


def test_ingest_job_reports_progress(client: TestClient, auth: dict[str, str]) -> None:
    assert_problem(client.post("/v1/jobs/ingest", json={}), 401)
    assert_problem(client.post("/v1/jobs/ingest", json={"stages": ["nope"]}, headers=auth), 400)
    # The demo's photos are stored already; a retry of the store stage finds nothing to do,
    # so the job is quick and needs no model.
    started = client.post("/v1/jobs/ingest", json={"stages": ["store"]}, headers=auth)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    job = wait_until(
        lambda: (
            (j := client.get(f"/v1/jobs/{job_id}", headers=auth).json())["status"]
            in ("finished", "failed")
            and j
        )
    )
    assert job["status"] == "finished", job
    assert [s["name"] for s in job["stages"]] == ["store"]
    assert job_id in [j["id"] for j in client.get("/v1/jobs", headers=auth).json()]
    assert_problem(client.get("/v1/jobs/unknown", headers=auth), 404)
    assert_problem(client.get("/v1/jobs"), 401)  # jobs are admin: progress and errors included


def test_one_job_at_a_time(api_settings) -> None:  # type: ignore[no-untyped-def]
    release = threading.Event()

    def slow_runner(settings, db, *, stages, retry_failed, limit, progress):  # type: ignore[no-untyped-def]
        progress.start("store", 3)
        progress.advance(2)
        release.wait(5)
        return IngestSummary([StageSummary("store", done=3)])

    registry = JobRegistry(api_settings, db=None)  # type: ignore[arg-type]
    job = registry.start_ingest(runner=slow_runner)
    snap = wait_until(
        lambda: (s := job.snapshot())["stages"] and s["stages"][0]["processed"] == 2 and s
    )
    assert snap["status"] == "running"
    with pytest.raises(Conflict):
        registry.start_ingest(runner=slow_runner)
    release.set()
    wait_until(lambda: job.snapshot()["status"] == "finished")
    assert job.snapshot()["stages"][0]["done"] == 3


def test_keys_are_hashed_and_revocable(client: TestClient) -> None:
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        info, key = create_key(s, "shop-admin")
    with db.session() as s:
        from modiste.catalog.api_keys import ApiKeyRow

        row = s.get(ApiKeyRow, info.id)
        assert key not in (row.digest, row.salt) and row.prefix in key
        assert verify_key(s, key) is not None
        assert verify_key(s, key + "x") is None and verify_key(s, "garbage") is None
    headers = {"X-API-Key": key}
    assert client.post("/v1/corrections/export", headers=headers).status_code == 200
    with db.session() as s:
        revoke_key(s, "shop-admin")
        assert [k.revoked for k in list_keys(s)] == [True]
    assert_problem(client.post("/v1/corrections/export", headers=headers), 401)


def test_keys_cli(api_settings) -> None:  # type: ignore[no-untyped-def]
    import modiste.cli.serve  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    runner = CliRunner()
    args = ["--data-dir", str(api_settings.data_dir), "keys"]
    made = runner.invoke(app, [*args, "create", "ci"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("mk_")
    listed = runner.invoke(app, [*args, "list"])
    assert "ci" in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, [*args, "revoke", "ci"]).exit_code == 0


def test_health_and_private_reads(api_settings) -> None:  # type: ignore[no-untyped-def]
    private = api_settings.model_copy(update={"api_public_read": False})
    with TestClient(create_app(private)) as client:
        health = client.get("/v1/health").json()
        assert health["status"] == "ok" and health["counts"]["products"] == 18
        assert_problem(client.get("/v1/products"), 401)
        with client.app.state.db.session() as s:  # type: ignore[attr-defined]
            _, key = create_key(s, "reader")
        assert client.get("/v1/products", headers={"X-API-Key": key}).status_code == 200


def test_private_reads_cover_pages_and_accept_the_key_cookie_for_reads_only(  # type: ignore[no-untyped-def]
    api_settings,
) -> None:
    private = api_settings.model_copy(update={"api_public_read": False})
    html = {"Accept": "text/html"}
    with TestClient(create_app(private)) as client:
        with client.app.state.db.session() as s:  # type: ignore[attr-defined]
            _, key = create_key(s, "browser")
        for page in ("/", "/catalog", "/duplicates"):
            locked = client.get(page, headers=html)
            assert locked.status_code == 401, page
            assert "This catalog is private" in locked.text
        client.cookies.set("modiste_key", key)
        products = client.get("/v1/products").json()
        product_id = products["items"][0]["id"]
        for page in ("/", "/catalog", "/duplicates", f"/products/{product_id}"):
            assert client.get(page, headers=html).status_code == 200, page
        # The cookie is for reads only: a write with it alone is refused, with the header it works.
        assert_problem(client.patch(f"/v1/products/{product_id}", json={"title": "x"}), 401)
        client.cookies.set("modiste_key", "mk_not_a_key")
        assert client.get("/", headers=html).status_code == 401
        assert client.get("/v1/products", headers={"X-API-Key": key}).status_code == 200
