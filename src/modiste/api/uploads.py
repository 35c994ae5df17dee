"""Uploaded photos: a size cap while reading, then the one safe decoder.

The format is sniffed from the bytes (the client's content type and file name are ignored), so
a non-image is a 415 and a broken image a 422, before any model sees it.

Memory is bounded (issue #16): each route asks for the pixels its models need (``draft_size``),
so forty 40-megapixel PNGs are kept as forty small images, not 6 GB; a request's photos may
hold at most ``api_max_request_pixels`` in all, checked from their headers before decoding; and
decoding runs in the thread pool under the process-wide pixel budget, not on the event loop.
"""

from __future__ import annotations

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from modiste.api.problems import PayloadTooLarge, UnsupportedMediaType
from modiste.config import Settings
from modiste.imaging import DecodedImage, decode_image, sniff_format
from modiste.imaging.decode import configure_decode_budget, probe_image

_CHUNK = 1024 * 1024
# What each upload route's models need. The shot classifier runs at 224 and the gallery ingest
# stage decodes at 320 (gallery.stage.DRAFT); catalog photos are indexed from 1024
# (search.indexing), so a query photo is detected and cropped at the same scale.
GALLERY_DRAFT = 320
SEARCH_DRAFT = 1024


def max_upload_bytes(settings: Settings) -> int:
    return settings.api_max_upload_bytes


class PixelAllowance:
    """The pixels one request's photos may hold in all (``api_max_request_pixels``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, pixels: int, name: str) -> None:
        self.used += pixels
        if self.used > self.limit:
            raise PayloadTooLarge(
                f"{name}: the photos of this request hold over {self.limit:,} pixels in all"
            )


async def read_upload(file: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{file.filename or 'upload'} is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def decode_upload(
    file: UploadFile,
    settings: Settings,
    *,
    draft_size: int | None = None,
    allowance: PixelAllowance | None = None,
) -> DecodedImage:
    """Read, check and decode one upload; ``draft_size`` as in :func:`decode_image`.

    ``allowance`` is shared by the photos of one request; without it the request holds one.
    """
    data = await read_upload(file, max_upload_bytes(settings))
    name = file.filename or "upload"
    if sniff_format(data[:16]) is None:
        raise UnsupportedMediaType(f"{name} is not a JPEG, PNG, WebP, GIF, BMP or TIFF image")
    _, width, height = probe_image(data, max_pixels=settings.max_image_pixels, name=name)
    (allowance or PixelAllowance(settings.api_max_request_pixels)).take(width * height, name)
    configure_decode_budget(settings.decode_budget_pixels)
    return await run_in_threadpool(
        decode_image,
        data,
        max_pixels=settings.max_image_pixels,
        draft_size=draft_size,
        name=name,
    )
