"""Public answers say what went wrong without telling how the server is laid out: no file
paths (regulations), no resolved addresses (refused image links)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.config import Settings


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    """An app over an empty catalog (no demo ingest needed)."""
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, settings
    app.state.db.dispose()


def test_regulations_name_their_origin_not_their_path(
    bare: tuple[TestClient, Settings],
) -> None:
    client, settings = bare
    settings.regulations_dir.mkdir(parents=True)
    (settings.regulations_dir / "mine.yaml").write_text("order: [back, far_front]\n")
    listed = client.get("/v1/regulations")
    assert listed.status_code == 200
    sources = {r["name"]: r["source"] for r in listed.json()}
    assert sources["default"] == "shipped" and sources["mine"] == "saved"
    one = client.get("/v1/regulations/mine")
    assert one.json()["source"] == "saved"
    for answer in (listed, one, client.get("/v1/regulations/default")):
        assert str(settings.resolved_data_dir) not in answer.text
        assert "/regulations/" not in answer.text and ".yaml" not in answer.text


def test_a_broken_regulation_file_is_named_without_its_folder(
    bare: tuple[TestClient, Settings],
) -> None:
    client, settings = bare
    settings.regulations_dir.mkdir(parents=True)
    (settings.regulations_dir / "typo.yaml").write_text("order: [far_frnt]\n")
    answer = client.get("/v1/regulations")
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "far_frnt" in detail and "DATA_DIR/regulations/typo.yaml" in detail
    assert str(settings.resolved_data_dir) not in answer.text


def test_a_refused_image_link_shows_no_resolved_address(
    bare: tuple[TestClient, Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fetch refusal is stored with the image and shown by GET /v1/products/{id}."""
    from modiste.catalog.importer import import_feed
    from modiste.pipeline.ingest import run_ingest

    client, settings = bare
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title,image_link\np1,Coat,http://images.shop.example/coat.jpg\n")
    db = client.app.state.db  # type: ignore[attr-defined]
    import_feed(db, feed)

    def private(host: str, port: int, *args: object, **kw: object) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.9.8.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private)
    run_ingest(settings, db, stages=["store"])
    product = client.get("/v1/products").json()["items"][0]
    images = client.get(f"/v1/products/{product['id']}/images").json()
    assert images[0]["status"] == "failed"
    assert "private address" in images[0]["error"]
    assert "10.9.8.7" not in client.get(f"/v1/products/{product['id']}").text
    assert "10.9.8.7" not in str(images)
