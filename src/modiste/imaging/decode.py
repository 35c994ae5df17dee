"""Safe decode: the one way Modiste turns bytes into pixels.

Every path that reads an image (feeds, uploads, training, evaluation) goes through
:func:`decode_image`, so the same refusals apply everywhere: a format allow-list checked on the
bytes (not the file name), a pixel cap checked *before* pixels are allocated, truncated files
refused, EXIF orientation applied, and every colour mode converted to 8-bit RGB on white.

Memory is bounded too (a hostile image must not take the process down): a caller that needs
model-size pixels asks for them with ``draft_size`` and the full-size buffer is dropped right
after loading; full-size decodes share one process-wide :class:`PixelBudget`, so eight fetch
workers or forty API threads cannot each hold a 40-megapixel buffer at once; and the memory
of a big decode is handed back to the OS afterwards.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from modiste.errors import ImageDecodeError

# Pillow's format names. MPO is the multi-picture JPEG that many phones write.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
DEFAULT_MAX_PIXELS = 40_000_000
# Pixels being decoded at full size at once, process-wide: two images at the cap (about 4 bytes
# a pixel while decoding, so ~320 MB). Settings.decode_budget_pixels overrides it.
DEFAULT_DECODE_BUDGET = 2 * DEFAULT_MAX_PIXELS
# A decode at least this big hands its memory back to the OS afterwards (malloc_trim costs a
# few milliseconds, not worth it for every thumbnail).
_TRIM_AFTER_PIXELS = 4_000_000
# Pillow's WebP decoder holds about four full-size RGBA copies (libwebp's canvas, the frame as
# bytes, the image...): 40 MP took 610 MB. Over this, a WebP is refused so that any one image
# stays under ~512 MB (benchmarks/decode_memory.py), and it is charged 4x in the budget.
WEBP_MAX_PIXELS = 24_000_000
_COST_FACTOR = {"WEBP": 4}
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = frozenset(_TRANSPOSE[k] for k in (5, 6, 7, 8))
# Modes Image.reduce() cannot take: converted to 8-bit first.
_NOT_REDUCIBLE = frozenset({"1", "P", "I;16", "I;16B", "I;16L", "I;16N"})

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


class PixelBudget:
    """How many pixels may be decoded at full size at once; callers over it wait their turn.

    An image bigger than the whole budget still runs, alone, so nothing under the pixel cap is
    refused for being big; it only waits until the others are done.
    """

    def __init__(self, pixels: int) -> None:
        self.pixels = max(1, pixels)
        self._used = 0
        self._cond = threading.Condition()

    @property
    def in_use(self) -> int:
        return self._used

    def resize(self, pixels: int) -> None:
        with self._cond:
            self.pixels = max(1, pixels)
            self._cond.notify_all()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        with self._cond:
            while self._used and self._used + pixels > self.pixels:
                self._cond.wait()
            self._used += pixels
        try:
            yield
        finally:
            with self._cond:
                self._used -= pixels
                self._cond.notify_all()


_budget = PixelBudget(DEFAULT_DECODE_BUDGET)


def configure_decode_budget(pixels: int) -> PixelBudget:
    """Size the process-wide budget (the entry points pass ``Settings.decode_budget_pixels``)."""
    _budget.resize(pixels)
    return _budget


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_memory() -> None:
    """Give freed image memory back to the OS.

    Pillow's block cache and glibc's arenas keep freed buffers for reuse, so without this the
    RSS of a server stays at the high-water mark of its biggest request.
    """
    Image.core.clear_cache()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _reduced(im: Image.Image, draft_size: int | None) -> Image.Image:
    """``im`` box-reduced by the largest whole factor that keeps its short side >= draft_size."""
    factor = min(im.size) // draft_size if draft_size else 1
    if factor < 2:
        return im
    if im.mode in _NOT_REDUCIBLE:
        im = _to_rgb(im)
    return im.reduce(factor)


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

        # float32 and in place: a 40-megapixel 16-bit image stays near 160 MB, not 1 GB.
        arr = np.asarray(im).astype(np.float32)
        hi = float(arr.max()) if arr.size else 0.0
        # Scale by the type's range, not the image's, so that a dark 16-bit photo stays dark.
        # Only 32-bit "I" (which may hold 8- or 16-bit data) has to be guessed from its values.
        if im.mode.startswith("I;16"):
            scale = 255.0 / 65535.0
        elif im.mode == "I":
            scale = 255.0 / (65535.0 if hi > 255 else 255.0)
        else:
            scale = 255.0 / max(hi, 1.0)
        arr *= scale
        np.rint(arr, out=arr)
        np.clip(arr, 0, 255, out=arr)
        im = Image.fromarray(arr.astype(np.uint8), mode="L")
        del arr
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


def _open(data: bytes, fmt: str, label: str, max_pixels: int) -> Image.Image:
    """Parse the header only, and refuse what must not be decoded (no pixels allocated yet)."""
    try:
        im: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as e:
        raise ImageDecodeError(f"{label}: corrupt or unreadable {fmt} file") from e
    if im.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(f"{label}: format {im.format} is not allowed")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageDecodeError(f"{label}: empty image ({w}x{h})")
    cap = min(max_pixels, WEBP_MAX_PIXELS) if im.format == "WEBP" else max_pixels
    if w * h > cap:
        raise ImageDecodeError(
            f"{label}: {w}x{h} = {w * h:,} pixels is over the cap of {cap:,} "
            + ("for WebP " if cap < max_pixels else "")
            + "(possible decompression bomb)"
        )
    return im


def _sniffed(data: bytes, label: str) -> str:
    fmt = sniff_format(data[:16])
    if fmt is None:
        raise ImageDecodeError(
            f"{label}: not an allowed image format (JPEG, PNG, WebP, GIF, BMP, TIFF)"
        )
    return fmt


def _bad_image(label: str, fmt: str, e: Exception) -> ImageDecodeError:
    if isinstance(e, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return ImageDecodeError(f"{label}: too many pixels (decompression bomb refused)")
    # Untrusted bytes: any failure inside a decoder (struct.error from a broken EXIF block,
    # TypeError from a TIFF without dimensions...) means a bad image, not a crash.
    detail = str(e) or type(e).__name__
    return ImageDecodeError(f"{label}: corrupt or truncated {fmt} file ({detail})")


def probe_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image"
) -> tuple[str, int, int]:
    """Format, width and height from the header alone (before orientation); nothing decoded.

    Lets a caller refuse a request by its total pixels before it decodes any of them.
    """
    fmt = _sniffed(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data, fmt, name, max_pixels) as im:
                return fmt, im.size[0], im.size[1]
    except ImageDecodeError:
        raise
    except Exception as e:
        raise _bad_image(name, fmt, e) from e


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
        draft_size: when set, the image comes back at the smallest size that is still at least
            this many pixels on the short side: JPEGs are decoded that small (DCT scaling),
            other formats are box-reduced by a whole factor right after loading, so the
            full-size buffer is freed at once. Ask for it wherever model-size pixels will do.
        name: how to name the image in errors (defaults to the path, or "image").

    Raises:
        ImageDecodeError: the bytes are not an allowed format, are corrupt or truncated, or
            have too many pixels. The message names the image.
    """
    label = name or (str(source) if isinstance(source, str | Path) else "image")
    data = _read(source, label)
    fmt = _sniffed(data, label)
    cost = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = _open(data, fmt, label, max_pixels)
            w, h = im.size
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF/WebP/TIFF: the first frame only
            if draft_size and im.format in ("JPEG", "MPO"):
                im.draft("RGB", (draft_size, draft_size))
            # What load() allocates (after any JPEG draft).
            cost = im.size[0] * im.size[1] * _COST_FACTOR.get(fmt, 1)
            with _budget.hold(cost):
                rgb, method = _load_small(im, draft_size)
            if method in _SWAPS_SIDES:
                w, h = h, w
    except ImageDecodeError:
        raise
    except Exception as e:
        raise _bad_image(label, fmt, e) from e
    finally:
        if cost >= _TRIM_AFTER_PIXELS:
            release_memory()
    return DecodedImage(image=rgb, format="JPEG" if fmt == "JPEG" else fmt, width=w, height=h)


def _load_small(
    im: Image.Image, draft_size: int | None
) -> tuple[Image.Image, Image.Transpose | None]:
    """Load ``im``, shrink it to ``draft_size`` at once, orient it and make it RGB.

    Returns the RGB image and the transpose applied for EXIF orientation (if any). Every
    intermediate full-size image is dropped as soon as the next one exists.
    """
    # LOAD_TRUNCATED_IMAGES is a process-wide switch; refuse truncation explicitly in case a
    # library imported alongside us turned it on.
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        im.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    method = _TRANSPOSE.get(im.getexif().get(_ORIENTATION, 1))
    small = _reduced(im, draft_size)
    if small is not im:
        im.close()
        im = small
    if method is not None:
        im = im.transpose(method)
    return _to_rgb(im), method
