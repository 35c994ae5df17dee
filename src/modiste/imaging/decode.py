"""Safe decode: the one way Modiste turns bytes into pixels.

Every path that reads an image (feeds, uploads, training, evaluation) goes through
:func:`decode_image`, so the same refusals apply everywhere: a format allow-list checked on the
bytes (not the file name), a pixel cap checked *before* pixels are allocated, truncated files
refused, EXIF orientation applied, and every colour mode converted to 8-bit RGB on white.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from modiste.errors import ImageDecodeError

# Pillow's format names. MPO is the multi-picture JPEG that many phones write.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
DEFAULT_MAX_PIXELS = 40_000_000

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def sniff_format(head: bytes) -> str | None:
    """Name the image format from the first bytes, or ``None`` if it is not one we accept."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An RGB image plus what we learnt while decoding it."""

    image: Image.Image
    format: str
    width: int  # after orientation, before any draft reduction
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def _read(source: bytes | str | Path, label: str) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as e:
        raise ImageDecodeError(f"{label}: cannot read file ({e.strerror or e})") from e


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB; transparent pixels become white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(im, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        # Scale by the type's range, not the image's, so that a dark 16-bit photo stays dark.
        # Only 32-bit "I" (which may hold 8- or 16-bit data) has to be guessed from its values.
        if im.mode.startswith("I;16"):
            scale = 255.0 / 65535.0
        elif im.mode == "I":
            scale = 255.0 / (65535.0 if hi > 255 else 255.0)
        else:
            scale = 255.0 / max(hi, 1.0)
        im = Image.fromarray(np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8), mode="L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im


def decode_image(
    source: bytes | str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
    name: str | None = None,
) -> DecodedImage:
    """Decode ``source`` (bytes or a path) to RGB, refusing anything unsafe.

    Args:
        source: raw bytes, or a path to read.
        max_pixels: refuse images with more pixels than this (before allocating them).
        draft_size: when set, JPEGs are decoded with DCT scaling to the smallest size that is
            still at least this many pixels on the short side; much faster for thumbnails and
            model input. Other formats are decoded at full size.
        name: how to name the image in errors (defaults to the path, or "image").

    Raises:
        ImageDecodeError: the bytes are not an allowed format, are corrupt or truncated, or
            have too many pixels. The message names the image.
    """
    label = name or (str(source) if isinstance(source, str | Path) else "image")
    data = _read(source, label)
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageDecodeError(
            f"{label}: not an allowed image format (JPEG, PNG, WebP, GIF, BMP, TIFF)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                im: Image.Image = Image.open(io.BytesIO(data))
            except UnidentifiedImageError as e:
                raise ImageDecodeError(f"{label}: corrupt or unreadable {fmt} file") from e
            if im.format not in ALLOWED_FORMATS:
                raise ImageDecodeError(f"{label}: format {im.format} is not allowed")
            w, h = im.size
            if w <= 0 or h <= 0:
                raise ImageDecodeError(f"{label}: empty image ({w}x{h})")
            if w * h > max_pixels:
                raise ImageDecodeError(
                    f"{label}: {w}x{h} = {w * h:,} pixels is over the cap of {max_pixels:,} "
                    "(possible decompression bomb)"
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF/WebP/TIFF: the first frame only
            if draft_size and im.format in ("JPEG", "MPO"):
                im.draft("RGB", (draft_size, draft_size))
            # LOAD_TRUNCATED_IMAGES is a process-wide switch; refuse truncation explicitly in
            # case a library imported alongside us turned it on.
            previous = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                im.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = previous
            oriented = ImageOps.exif_transpose(im)
            if oriented is not None:
                im = oriented
            if im.size != (w, h) and im.size == (h, w):
                w, h = h, w
            rgb = _to_rgb(im)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(f"{label}: too many pixels (decompression bomb refused)") from e
    except Image.DecompressionBombWarning as e:
        raise ImageDecodeError(f"{label}: too many pixels (decompression bomb refused)") from e
    except Exception as e:
        # Untrusted bytes: any failure inside a decoder (struct.error from a broken EXIF block,
        # TypeError from a TIFF without dimensions...) means a bad image, not a crash.
        detail = str(e) or type(e).__name__
        raise ImageDecodeError(f"{label}: corrupt or truncated {fmt} file ({detail})") from e
    return DecodedImage(image=rgb, format="JPEG" if fmt == "JPEG" else fmt, width=w, height=h)
