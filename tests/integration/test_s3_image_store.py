"""A catalog whose originals live in S3 (moto on loopback): import, ingest, API reads, delete."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modiste.api import create_app
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.config import Settings
from modiste.errors import StoreError
from modiste.imaging.store import open_image_store, sha256_bytes
from modiste.pipeline.ingest import run_ingest

pytest.importorskip("boto3")


def _feed(folder: Path) -> Path:
    for name, colour in (("red.jpg", (200, 0, 0)), ("blue.jpg", (0, 0, 200))):
        buf = io.BytesIO()
        Image.new("RGB", (120, 160), colour).save(buf, format="JPEG")
        (folder / name).write_bytes(buf.getvalue())
    (folder / "bad.jpg").write_text("<html/>")
    rows = [
        {
            "id": "1",
            "title": "Red coat",
            "image_link": "red.jpg",
            "additional_image_link": "bad.jpg",
        },
        {
            "id": "2",
            "title": "Blue coat",
            "image_link": "blue.jpg",
            "additional_image_link": "red.jpg",
        },
    ]
    feed = folder / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return feed


def sha256_of(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def _settings(tmp_path: Path, endpoint: str, bucket: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", image_store=f"s3://{bucket}/catalog", s3_endpoint_url=endpoint
    )


def test_ingest_into_s3_and_read_through_the_api(
    tmp_path: Path, s3_bucket: tuple[str, str], connections: list[str]
) -> None:
    import boto3

    endpoint, bucket = s3_bucket
    settings = _settings(tmp_path, endpoint, bucket)
    db = Database(settings)
    db.migrate()
    import_feed(db, _feed(tmp_path), seller="shop")
    summary = run_ingest(settings, db, stages=["store"])
    assert (summary.stages[0].done, summary.stages[0].failed) == (3, 1), summary.failures
    objects = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    assert len(objects) == 2 and all(o["Key"].startswith("catalog/") for o in objects)
    assert not settings.images_dir.exists()  # nothing kept locally
    store = open_image_store(settings)
    with db.session() as session:
        status = catalog_status(session, original_exists=store.exists)
    assert status["images"]["stored"] == 3 and status["missing_originals"]["images"] == 0

    app = create_app(settings, db=db)
    with TestClient(app) as client:
        product = client.get("/v1/products", params={"q": "Blue"}).json()["items"][0]
        image = next(i for i in product["images"] if i["status"] == "stored")
        original = client.get(image["url"])
        assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
        assert original.content == (tmp_path / "blue.jpg").read_bytes()
        thumb = client.get(f"/v1/images/{image['id']}/thumb", params={"size": 64})
        assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 64

        # Deleted from the store: the API says the image is gone, and status counts it missing
        # (the next ingest fetches it again from the feed).
        digest = original.headers["etag"].strip('"')
        store.delete(digest)
        gone = client.get(image["url"])
        assert gone.status_code == 404 and "not in the store" in gone.json()["detail"]
        assert client.get(f"/v1/images/{image['id']}/thumb", params={"size": 64}).status_code == 404
    with db.session() as session:
        assert (
            catalog_status(session, original_exists=store.exists)["missing_originals"]["images"]
            == 1
        )
    again = run_ingest(settings, db, stages=["store"])
    assert again.stages[0].done == 1 and store.exists(digest)

    # A backup copies the catalog; the originals stay in the bucket (its own versioning).
    from modiste.catalog.backup import create_backup

    report = create_backup(settings, tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert (report.images, report.missing_images) == (0, 0)
    assert not any(f.startswith("data/images/") for f in manifest["files"])
    db.dispose()
    assert all(h == "127.0.0.1" for h in connections)


def test_an_unreachable_store_stops_ingest_and_answers_503(
    tmp_path: Path, s3_bucket: tuple[str, str]
) -> None:
    import socket

    endpoint, bucket = s3_bucket
    settings = _settings(tmp_path, endpoint, bucket)
    db = Database(settings)
    db.migrate()
    import_feed(db, _feed(tmp_path), seller="shop")
    run_ingest(settings, db, stages=["store"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = settings.model_copy(update={"s3_endpoint_url": dead})
    import_feed(db, _feed(tmp_path), seller="other shop")
    with pytest.raises(StoreError, match="could not be reached"):
        run_ingest(down, db, stages=["store"])
    with db.session() as session:  # nothing was marked failed for it: the next run stores them
        status = catalog_status(session)
    assert status["images"]["failed"] == 1 and status["images"]["pending"] == 4

    app = create_app(down, db=db)
    with TestClient(app) as client:
        product = client.get("/v1/products", params={"q": "Red"}).json()["items"][0]
        image = next(i for i in product["images"] if i["status"] == "stored")
        res = client.get(image["url"])
        body = res.json()
        assert res.status_code == 503 and res.headers["content-type"] == "application/problem+json"
        assert (
            body["type"].endswith("store-unavailable") and "could not be reached" in body["detail"]
        )
        assert "127.0.0.1" not in res.text and dead not in res.text and bucket not in res.text
    db.dispose()


def test_the_missing_originals_check_lists_the_bucket_instead_of_a_head_per_image(
    tmp_path: Path, s3_bucket: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """status and every ingest start check each stored image: one HEAD each would be a
    million requests on a million-image catalog; a listing is one per 1,000 keys."""
    import logging

    endpoint, bucket = s3_bucket
    settings = _settings(tmp_path, endpoint, bucket)
    db = Database(settings)
    db.migrate()
    import_feed(db, _feed(tmp_path), seller="shop")
    run_ingest(settings, db, stages=["store"])
    store = open_image_store(settings)
    store.delete(sha256_of(tmp_path / "red.jpg"))
    caplog.clear()
    caplog.set_level(logging.INFO, logger="werkzeug")  # moto logs every request it answers
    with db.session() as session:
        status = catalog_status(session, original_exists=store.exists_checker())
    requests = [m for m in caplog.messages if f"/{bucket}" in m]
    assert [m for m in requests if '"HEAD ' in m] == []
    assert len([m for m in requests if f"GET /{bucket}?list-type=2" in m]) == 1
    assert status["missing_originals"]["images"] == 2  # red.jpg is on both products
    db.dispose()
