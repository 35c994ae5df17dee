"""Content-addressed image files under the data dir, and thumbnails made on demand.

A file's name is the sha256 of its bytes, so the same photo in two feeds is stored once and a
half-written file can never masquerade as a finished one (writes go to a temp file first).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from modiste.errors import NotFoundError
from modiste.imaging.decode import decode_image

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
    """Originals at ``root/ab/cd/<sha256>``, thumbnails at ``root/../thumbs/<size>/``."""

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
