"""Bodies are not read before the key check, JSON bodies have their own low cap, and upload
routes decode model-size pixels within a per-request pixel cap (issue #16, items 1 and 7).

An app over an empty data folder: nothing here needs the demo catalog."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from modiste.api import create_app
from modiste.catalog.api_keys import create_key
from modiste.config import Settings

from .support import assert_problem


def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    app.state.db.dispose()


@pytest.fixture
def key(app: FastAPI) -> str:
    with app.state.db.session() as session:
        _, clear = create_key(session, "guard")
    return clear


def _call(app: FastAPI, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
    """Run one request through the ASGI app; returns (status, headers, body, body reads)."""
    reads: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return SimpleNamespace(
        status=start["status"], headers=dict(start["headers"]), body=payload, reads=len(reads)
    )


PRODUCT = json.dumps({"id": "p1", "title": "Coat"}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "mk_not_a_key"},
        {"Authorization": "Bearer mk_not_a_key"},
        {"Cookie": "modiste_key=mk_not_a_key"},  # never for writes
    ],
    ids=["none", "invalid", "invalid-bearer", "cookie"],
)
def test_write_without_a_valid_key_is_refused_before_the_body_is_read(
    app: FastAPI, headers: dict[str, str]
) -> None:
    headers = {"content-type": "application/json", **headers}
    res = _call(app, "POST", "/v1/products", headers, PRODUCT)
    assert res.status == 401
    assert res.reads == 0
    assert res.headers[b"content-type"].startswith(b"application/problem+json")
    assert b"www-authenticate" in res.headers


def test_upload_route_with_private_reads_checks_the_key_first(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_public_read": False}))
    files = b"--x\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n" + _png(
        (8, 8)
    )
    res = _call(app, "POST", "/v1/search/image", {"content-type": "multipart/form-data"}, files)
    app.state.db.dispose()
    assert (res.status, res.reads) == (401, 0)


def test_a_valid_key_goes_on_to_the_route(app: FastAPI, key: str) -> None:
    with TestClient(app) as client:
        for auth in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            res = client.post("/v1/products", content=PRODUCT, headers=auth)
            assert res.status_code not in (401, 413), res.text


def test_a_key_is_looked_up_once_per_request(
    app: FastAPI, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-body guard and the route's dependency share one key-table read."""
    from modiste.api import security

    lookups: list[str] = []
    real = security.verify_key

    def counted(session: Any, presented: str) -> Any:
        lookups.append(presented)
        return real(session, presented)

    monkeypatch.setattr(security, "verify_key", counted)
    with TestClient(app) as client:
        body = {"seller": "guard", "external_id": "p1", "title": "Coat"}
        res = client.post("/v1/products", json=body, headers={"X-API-Key": key})
        assert res.status_code == 201, res.text
        assert lookups == [key]
        client.post("/v1/products", json={**body, "external_id": "p2"}, headers={"X-API-Key": key})
        assert lookups == [key, key]  # per request: a revoked key stops working at once


def test_json_bodies_have_a_much_lower_cap_than_uploads(settings: Settings, key: str) -> None:
    app = create_app(settings.model_copy(update={"api_max_body_bytes": 1000}))
    big_json = json.dumps({"id": "p1", "title": "x" * 2000}).encode()
    with TestClient(app) as client:
        res = client.post("/v1/products", content=big_json, headers={"X-API-Key": key})
        assert "over 1000 bytes" in assert_problem(res, 413)["detail"]
        # A photo of several times that size is still taken by an upload route.
        photo = {"files": ("a.png", _png((300, 300)) + b"\0" * 5000, "image/png")}
        assert client.post("/v1/galleries/sort", files=photo).status_code != 413
    app.state.db.dispose()


def test_chunked_json_body_is_cut_at_the_cap(settings: Settings, key: str) -> None:
    app = create_app(settings.model_copy(update={"api_max_body_bytes": 1000}))

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b" " * 100

    with TestClient(app) as client:
        res = client.post("/v1/products", content=chunks(), headers={"X-API-Key": key})
        assert_problem(res, 413)
    app.state.db.dispose()


class _SortSpy:
    """Stands in for the gallery adapter's sort: records the images it is given."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def sort(self, keys: list[str], images: list[Any], regulation: Any, category: Any) -> Any:
        self.sizes = [im.size for im in images]
        return "default", [], []


def test_gallery_sort_keeps_classifier_size_pixels(app: FastAPI) -> None:
    spy = _SortSpy()
    app.state.gallery = spy
    files = [("files", (f"p{i}.png", _png((2000, 1400)), "image/png")) for i in range(3)]
    with TestClient(app) as client:
        assert client.post("/v1/galleries/sort", files=files).status_code == 200
    assert len(spy.sizes) == 3
    for w, h in spy.sizes:
        assert 320 <= min(w, h) < 640 and w > h  # not 2000x1400


def test_gallery_sort_refuses_a_request_over_the_pixel_cap(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_max_request_pixels": 5_000_000}))
    app.state.gallery = _SortSpy()
    files = [("files", (f"p{i}.png", _png((2000, 1000)), "image/png")) for i in range(3)]
    with TestClient(app) as client:
        body = assert_problem(client.post("/v1/galleries/sort", files=files), 413)
        assert "p2.png" in body["detail"] and "5,000,000 pixels" in body["detail"]
        assert client.post("/v1/galleries/sort", files=files[:2]).status_code == 200
    app.state.db.dispose()


class _SearchSpy:
    """Finds one 'garment' covering the whole (reduced) photo it is given."""

    def filters(self, **kw: Any) -> None:
        return None

    def image(self, image: Any, filters: Any, k: int) -> list[Any]:
        self.size = image.size
        box = SimpleNamespace(x1=0.0, y1=0.0, x2=float(image.width), y2=float(image.height) / 2)
        return [SimpleNamespace(box=box, label="top", confidence=0.9, hits=[])]


def test_photo_search_detects_on_a_reduced_photo_and_answers_in_its_pixels(app: FastAPI) -> None:
    spy = _SearchSpy()
    app.state.search = spy
    with TestClient(app) as client:
        res = client.post("/v1/search/image", files={"file": ("s.png", _png((4400, 2200)))})
    assert res.status_code == 200, res.text
    assert spy.size == (2200, 1100)  # factor 2: the short side stays >= 1024
    body = res.json()
    assert (body["width"], body["height"]) == (4400, 2200)
    assert body["objects"][0]["box"] == {"x1": 0.0, "y1": 0.0, "x2": 4400.0, "y2": 1100.0}
