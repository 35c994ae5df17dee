"""Hostile uploads and bodies through the HTTP API (photo search, gallery sort, product writes):
every answer is a clear 4xx/503 problem+json or a success, never a 500 or a traceback, no
internals (SQL, paths, addresses) leak, and the product stored before is unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.catalog.api_keys import create_key

from .conftest import KEEP_ID, KEEP_SELLER, Keeper
from .corpus import IMAGE_CASES, ImageCase

LEAKS = re.compile(
    r"Traceback|File \"|/tmp/|/work/|site-packages|sqlite|SELECT |INSERT |sqlalchemy|"
    r"psycopg|127\.0\.0\.1|169\.254\.",
    re.IGNORECASE,
)
OK_ERRORS = {400, 404, 409, 413, 415, 422, 503}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Keeper, str]]:
    keeper = Keeper(tmp_path_factory.mktemp("api-hostile"))
    # Many uploads from one client: the rate limits (tests/api/test_rate_limits.py) stay off.
    app = create_app(keeper.settings.model_copy(update={"api_rate_limit_per_minute": 0}))
    with app.state.db.session() as session:
        _, key = create_key(session, "hostile", "admin")  # reaches regulations PUT too
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keeper, key
    app.state.db.dispose()
    keeper.db.dispose()


def _check(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500 or status == 503, response.text  # type: ignore[attr-defined]
    if status >= 400:
        assert status in OK_ERRORS | {401, 403}, status
        assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
        body = response.json()  # type: ignore[attr-defined]
        assert body["status"] == status and body["detail"]
        assert not LEAKS.search(response.text), response.text  # type: ignore[attr-defined]


def _kept_intact(client: TestClient, keeper: Keeper) -> None:
    keeper.assert_intact()
    found = client.get("/v1/products", params={"seller": KEEP_SELLER, "q": "Kept"}).json()
    assert [(p["external_id"], p["title"]) for p in found["items"]] == [(KEEP_ID, "Kept coat")]


@pytest.mark.slow
@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.name)
def test_hostile_photo_search_uploads(api: tuple[TestClient, Keeper, str], case: ImageCase) -> None:
    client, keeper, _ = api
    files = {"file": (f"../../etc/{case.name}{case.suffix}", case.make(), "image/jpeg")}
    _check(client.post("/v1/search/image", files=files, data={"k": "3"}))
    _kept_intact(client, keeper)


@pytest.mark.slow
def test_hostile_gallery_sort_uploads(api: tuple[TestClient, Keeper, str]) -> None:
    client, keeper, _ = api
    for case in IMAGE_CASES:
        good = next(c for c in IMAGE_CASES if c.name == "cmyk_jpeg").make()
        files = [
            ("files", ("front.jpg", good, "image/jpeg")),
            ("files", (f"..\\..\\{case.name}{case.suffix}", case.make(), "image/png")),
        ]
        _check(client.post("/v1/galleries/sort", files=files))
    _kept_intact(client, keeper)


@pytest.mark.parametrize(
    "body",
    [
        {"external_id": "x\x00y", "title": "nul"},
        {"external_id": "a" * 201, "title": "too long"},
        {"external_id": "d1", "description": "D" * 60_000},
        {"external_id": "j1", "link": "javascript:alert(1)"},
        {"external_id": "j2", "link": "data:text/html,<script>alert(1)</script>"},
        {"external_id": "f1", "title": "=cmd|' /C calc'!A0"},
        {"external_id": "p1", "price": -1},
        {"external_id": "p2", "price": 1e308},
        {"external_id": "s1", "seller": KEEP_SELLER, "title": "overwrite?"},
        {"external_id": KEEP_ID, "seller": KEEP_SELLER, "title": "hijack"},
        {"external_id": "i1", "images": ["http://169.254.169.254/latest/meta-data/"]},
        {"external_id": "i2", "images": ["file:///etc/passwd"]},
        {"external_id": "i3", "images": ["http://x/" + "a" * 100_000]},
        {"external_id": "a1", "attributes": {"k": {"nested": [1, 2]}}},
    ],
)
def test_hostile_product_writes(api: tuple[TestClient, Keeper, str], body: dict) -> None:
    client, keeper, key = api
    r = client.post("/v1/products", json=body, headers={"X-API-Key": key})
    _check(r)
    if r.status_code == 201 and "link" in body:
        assert (r.json()["link"] or "http").lower().startswith("http")
    _kept_intact(client, keeper)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/products/..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/v1/products/99999999999999999999999"),
        ("GET", "/v1/products/-1"),
        ("PUT", "/v1/regulations/..%2F..%2Fevil"),
        ("PUT", "/v1/regulations/.hidden"),
        ("GET", "/v1/search/text?q=" + "%00" * 50),
        ("GET", "/v1/search/text?q=%27%20OR%201%3D1%20--"),
        ("GET", "/v1/search/text?q=" + "a" * 5000),
        ("GET", "/v1/products?min_price=nan"),
        ("GET", "/v1/products?offset=-1"),
    ],
)
def test_hostile_paths_and_queries(
    api: tuple[TestClient, Keeper, str], method: str, path: str
) -> None:
    client, keeper, key = api
    body = {"yaml": "name: evil\norder: [front]\n"} if method == "PUT" else None
    _check(client.request(method, path, json=body, headers={"X-API-Key": key}))
    _kept_intact(client, keeper)


def test_broken_multipart_and_json(api: tuple[TestClient, Keeper, str]) -> None:
    client, keeper, key = api
    headers = {"X-API-Key": key, "Content-Type": "multipart/form-data; boundary=zzz"}
    _check(client.post("/v1/search/image", content=b"--zzz\r\nbroken", headers=headers))
    _check(client.post("/v1/galleries/sort", content=b"\x00" * 1000, headers=headers))
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    _check(client.post("/v1/products", content=b'{"external_id": "x", ', headers=headers))
    _check(client.post("/v1/products", content=b"[" * 100_000, headers=headers))
    _kept_intact(client, keeper)
