"""Content-addressed image files under the data dir, and thumbnails made on demand.

A file's name is the sha256 of its bytes, so the same photo in two feeds is stored once and a
half-written file can never masquerade as a finished one (writes go to a temp file first).
``MODISTE_IMAGE_STORE=s3://bucket/prefix`` keeps the originals in an S3-compatible object store
instead (:mod:`modiste.imaging.s3_store`); :func:`open_image_store` picks one from the settings.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modiste.errors import ConfigError, NotFoundError
from modiste.imaging.decode import decode_image

if TYPE_CHECKING:
    from modiste.config import Settings

_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets a later run tell a killed writer's leftovers from live writes.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{os.getpid()}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ImageStore:
    """Originals at ``root/ab/cd/<sha256>``, thumbnails at ``root/../thumbs/<size>/``.

    The verbs (put, get, exists, delete, thumbnail) are the interface every store keeps;
    ``path_for`` exists only where ``is_local``.
    """

    is_local = True

    def __init__(self, root: Path, thumbs_root: Path | None = None) -> None:
        self.root = root
        self.thumbs_root = thumbs_root or root.parent / "thumbs"

    def path_for(self, content_hash: str) -> Path:
        return self.root / content_hash[:2] / content_hash[2:4] / content_hash

    def put(self, data: bytes) -> str:
        """Store bytes (idempotent) and return their sha256."""
        digest = sha256_bytes(data)
        path = self.path_for(digest)
        if not path.exists():
            atomic_write(path, data)
        return digest

    def exists(self, content_hash: str) -> bool:
        return self.path_for(content_hash).exists()

    def delete(self, content_hash: str) -> None:
        """Remove an original (idempotent); its cached thumbnails go with it."""
        self.path_for(content_hash).unlink(missing_ok=True)
        self._drop_thumbnails(content_hash)

    def exists_checker(self) -> Callable[[str], bool]:
        """``exists`` for checking many hashes in a row (the missing-originals check): a stat
        each here; an object store lists its keys once instead of asking per image."""
        return self.exists

    def check(self) -> None:
        """Raise :class:`~modiste.errors.StoreError` when the store can't be used (a folder
        always can: it is made on first write)."""

    def _drop_thumbnails(self, content_hash: str) -> None:
        for thumb in self.thumbs_root.glob(f"*/{content_hash}.jpg"):
            thumb.unlink(missing_ok=True)

    def get(self, content_hash: str) -> bytes:
        path = self.path_for(content_hash)
        try:
            return path.read_bytes()
        except FileNotFoundError as e:
            raise NotFoundError(f"image {content_hash[:12]}… is not in the store") from e

    def thumbnail(self, content_hash: str, size: int = 256) -> Path:
        """A JPEG at most ``size`` px on the long side, made once and cached."""
        out = self.thumbs_root / str(size) / f"{content_hash}.jpg"
        if out.exists():
            return out
        decoded = decode_image(self.get(content_hash), draft_size=size, name=content_hash[:12])
        im = decoded.image
        im.thumbnail((size, size))
        import io

        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
        atomic_write(out, buf.getvalue())
        return out

    @staticmethod
    def extension(fmt: str) -> str:
        return _EXT.get(fmt, "bin")


def open_image_store(settings: Settings) -> ImageStore:
    """The store the settings name: DATA_DIR/images, or ``s3://bucket/prefix``."""
    url = (settings.image_store or "").strip()
    if not url:
        return ImageStore(settings.images_dir)
    if not url.startswith("s3://"):
        raise ConfigError(
            f"MODISTE_IMAGE_STORE must be an s3://bucket/prefix URL (or unset for DATA_DIR/images),"
            f" not {url!r}"
        )
    from modiste.imaging.s3_store import S3ImageStore

    return S3ImageStore(
        url,
        endpoint_url=settings.s3_endpoint_url,
        images_dir=settings.images_dir,
        thumbs_root=settings.resolved_data_dir / "thumbs",
    )
