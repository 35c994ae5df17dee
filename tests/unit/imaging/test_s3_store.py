"""The S3 image store against a moto server on loopback: the local store's verbs and errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from modiste.config import Settings
from modiste.errors import ConfigError, NotFoundError, StoreError
from modiste.imaging.s3_store import S3ImageStore
from modiste.imaging.store import ImageStore, open_image_store, sha256_bytes


def _jpeg(colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (600, 300), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _store(tmp_path: Path, endpoint: str, bucket: str, prefix: str = "shop/originals") -> Any:
    settings = Settings(
        data_dir=tmp_path / "data", image_store=f"s3://{bucket}/{prefix}", s3_endpoint_url=endpoint
    )
    return open_image_store(settings)


def test_settings_pick_the_backend_by_url(tmp_path: Path) -> None:
    local = open_image_store(Settings(data_dir=tmp_path / "d"))
    assert type(local) is ImageStore and local.is_local
    s3 = open_image_store(Settings(data_dir=tmp_path / "d", image_store="s3://b/p/"))
    assert isinstance(s3, S3ImageStore) and not s3.is_local
    assert (s3.bucket, s3.prefix, s3.key_for("ab" * 32)) == ("b", "p", f"p/ab/ab/{'ab' * 32}")
    with pytest.raises(ConfigError, match="s3://bucket/prefix"):
        open_image_store(Settings(data_dir=tmp_path / "d", image_store="ftp://x/y"))


def test_put_get_exists_delete_content_addressed(
    tmp_path: Path, s3_bucket: tuple[str, str], connections: list[str]
) -> None:
    import boto3

    endpoint, bucket = s3_bucket
    store = _store(tmp_path, endpoint, bucket)
    data = _jpeg()
    digest = store.put(data)
    assert digest == sha256_bytes(data) and store.put(data) == digest  # stored once
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=endpoint)
        .list_objects_v2(Bucket=bucket)
        .get("Contents", [])
    ]
    assert keys == [f"shop/originals/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert store.exists(digest) and store.get(digest) == data
    assert not (tmp_path / "data" / "images").exists()  # no local originals

    thumb = store.thumbnail(digest, 64)  # made from the bytes, cached in the data folder
    assert thumb.is_file() and thumb.is_relative_to(tmp_path / "data" / "thumbs")
    assert max(Image.open(thumb).size) == 64

    store.delete(digest)
    store.delete(digest)  # idempotent
    assert not store.exists(digest) and not thumb.exists()
    with pytest.raises(NotFoundError, match="not in the store"):
        store.get(digest)
    with pytest.raises(StoreError):
        store.path_for(digest)
    assert connections and all(h == "127.0.0.1" for h in connections)


def test_unreachable_store_says_so_without_the_address(tmp_path: Path, s3_bucket: Any) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = _store(tmp_path, f"http://127.0.0.1:{port}", "b")
    for call in (store.check, lambda: store.put(b"x"), lambda: store.get("ab" * 32)):
        with pytest.raises(StoreError, match="could not be reached") as err:
            call()
        assert "127.0.0.1" not in str(err.value) and str(port) not in str(err.value)


def test_missing_bucket_and_credentials_are_named(
    tmp_path: Path, s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, _ = s3_bucket
    with pytest.raises(StoreError, match="bucket does not exist"):
        _store(tmp_path, endpoint, "no-such-bucket").check()
    with pytest.raises(StoreError, match="bucket does not exist"):
        _store(tmp_path, endpoint, "no-such-bucket").put(b"x")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StoreError, match="no S3 credentials"):
        _store(tmp_path, endpoint, s3_bucket[1]).check()


def test_refused_credentials(
    tmp_path: Path, s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto checks keys once told to (INITIAL_NO_AUTH_ACTION_COUNT): ours are unknown to it."""
    import moto.settings

    endpoint, bucket = s3_bucket
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    store = _store(tmp_path, endpoint, bucket)
    with pytest.raises(StoreError, match="refused access") as err:
        store.put(_jpeg())
    assert "testing" not in str(err.value)  # the key id is not repeated
