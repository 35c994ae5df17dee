"""Uploaded photos: a size cap while reading, then the one safe decoder.

The format is sniffed from the bytes (the client's content type and file name are ignored), so
a non-image is a 415 and a broken image a 422, before any model sees it.
"""

from __future__ import annotations

from fastapi import UploadFile

from modiste.api.problems import PayloadTooLarge, UnsupportedMediaType
from modiste.config import Settings
from modiste.imaging import DecodedImage, decode_image, sniff_format

_CHUNK = 1024 * 1024


def max_upload_bytes(settings: Settings) -> int:
    return settings.api_max_upload_bytes


async def read_upload(file: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{file.filename or 'upload'} is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def decode_upload(file: UploadFile, settings: Settings) -> DecodedImage:
    data = await read_upload(file, max_upload_bytes(settings))
    name = file.filename or "upload"
    if sniff_format(data[:16]) is None:
        raise UnsupportedMediaType(f"{name} is not a JPEG, PNG, WebP, GIF, BMP or TIFF image")
    return decode_image(data, max_pixels=settings.max_image_pixels, name=name)
