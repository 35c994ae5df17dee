"""Content-addressed store: idempotent puts, atomic writes, thumbnails, killed-writer cleanup."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from modiste.errors import NotFoundError
from modiste.imaging.store import ImageStore, atomic_write, sha256_bytes


def _jpeg(size: tuple[int, int] = (600, 300)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    data = _jpeg()
    digest = store.put(data)
    assert digest == sha256_bytes(data)
    assert store.put(data) == digest
    path = store.path_for(digest)
    assert path.parent.parent.name == digest[:2] and path.parent.name == digest[2:4]
    assert [p for p in (tmp_path / "images").rglob("*") if p.is_file()] == [path]
    assert store.exists(digest) and store.get(digest) == data


def test_get_missing_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not in the store"):
        ImageStore(tmp_path).get("ab" * 32)


def test_thumbnail_is_small_and_cached(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    digest = store.put(_jpeg())
    thumb = store.thumbnail(digest, size=128)
    with Image.open(thumb) as im:
        assert max(im.size) == 128 and im.format == "JPEG"
    mtime = thumb.stat().st_mtime_ns
    assert store.thumbnail(digest, size=128) == thumb
    assert thumb.stat().st_mtime_ns == mtime


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.bin"]
