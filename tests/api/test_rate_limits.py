"""Rate limits on photo search, gallery sort and ingest jobs: the token bucket on a fake
clock, then 429 + Retry-After as problem+json through the app, per address and per key."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.api.ratelimit import TokenBuckets
from modiste.catalog.api_keys import create_key
from modiste.config import Settings

from .support import assert_problem

NOT_A_PHOTO = {"file": ("a.jpg", b"not a photo", "image/jpeg")}
NOT_PHOTOS = [("files", ("a.jpg", b"not a photo", "image/jpeg"))]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_minute=30, burst=3, clock=clock)  # a token every 2 s
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(2.0)
    assert buckets.take("b") == 0  # another client has its own bucket
    clock.now += 1.0
    assert buckets.take("a") == pytest.approx(1.0)  # a refused request spends nothing
    clock.now += 1.0
    assert buckets.take("a") == 0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refills to the burst, no further


def test_bucket_memory_is_bounded() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, clock=Clock(), max_clients=100)
    for i in range(1000):
        buckets.take(f"client {i}")
    assert len(buckets._buckets) == 100


def _app(tmp_path: Path, **limits: Any) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", **limits)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.db.dispose()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _app(
        tmp_path,
        api_rate_limit_per_minute=1,
        api_rate_limit_key_per_minute=1,
        api_rate_limit_burst=2,
    )


def _key(client: TestClient, name: str) -> str:
    """A key that may start ingest jobs (keys with scopes need 'admin' for them)."""
    scope = {"scope": "admin"} if "scope" in inspect.signature(create_key).parameters else {}
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        _, key = create_key(session, name, **scope)
    return key


def test_photo_search_answers_429_with_retry_after(client: TestClient) -> None:
    for _ in range(2):  # the burst: the photo is refused, but the request was served
        assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO), 415)
    limited = client.post("/v1/search/image", files=NOT_A_PHOTO)
    body = assert_problem(limited, 429)
    assert body["type"].endswith("/too-many-requests")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "retry in" in body["detail"] and "testclient" not in body["detail"]
    assert limited.headers["x-content-type-options"] == "nosniff"
    # each route has its own allowance
    assert_problem(client.post("/v1/galleries/sort", files=NOT_PHOTOS), 415)


def test_gallery_sort_and_ingest_are_limited(client: TestClient) -> None:
    for _ in range(2):
        assert_problem(client.post("/v1/galleries/sort", files=NOT_PHOTOS), 415)
    assert_problem(client.post("/v1/galleries/sort", files=NOT_PHOTOS), 429)
    admin = {"X-API-Key": _key(client, "admin")}
    unknown_stage = {"stages": ["no-such-stage"]}  # refused before any job starts
    for _ in range(2):
        assert_problem(client.post("/v1/jobs/ingest", json=unknown_stage, headers=admin), 400)
    assert_problem(client.post("/v1/jobs/ingest", json=unknown_stage, headers=admin), 429)


def test_a_valid_key_has_its_own_allowance(client: TestClient) -> None:
    key = _key(client, "shop backend")
    for _ in range(2):
        client.post("/v1/search/image", files=NOT_A_PHOTO)
    assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO), 429)  # the address
    keyed = {"X-API-Key": key}
    assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO, headers=keyed), 415)
    bearer = {"Authorization": f"Bearer {key}"}
    assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO, headers=bearer), 415)
    assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO, headers=keyed), 429)
    invalid = {"X-API-Key": "mk_nope_nope"}  # counts against the address, already spent
    assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO, headers=invalid), 429)


def test_limits_can_be_turned_off(tmp_path: Path) -> None:
    for client in _app(tmp_path, api_rate_limit_per_minute=0, api_rate_limit_burst=1):
        for _ in range(5):
            assert_problem(client.post("/v1/search/image", files=NOT_A_PHOTO), 415)


def test_openapi_documents_the_429(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/v1/search/image", "post"),
        ("/v1/galleries/sort", "post"),
        ("/v1/jobs/ingest", "post"),
    ]:
        answer = paths[path][method]["responses"]["429"]
        assert answer["content"]["application/problem+json"]["schema"]["$ref"].endswith("Problem")
    assert "429" not in paths["/v1/search/text"]["get"]["responses"]


def test_a_client_over_its_allowance_is_refused_before_its_upload_is_read(
    client: TestClient,
) -> None:
    from .test_request_guard import _call

    app = client.app
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    body = b"--x--\r\n" + b"\0" * 100_000
    first = [_call(app, "POST", "/v1/search/image", headers, body) for _ in range(2)]  # type: ignore[arg-type]
    assert all(r.status != 429 and r.reads > 0 for r in first)
    limited = _call(app, "POST", "/v1/search/image", headers, body)  # type: ignore[arg-type]
    assert limited.status == 429 and limited.reads == 0
    assert dict(limited.headers)[b"retry-after"]
