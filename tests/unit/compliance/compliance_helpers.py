"""Synthetic product photos: a textured 'garment' on a backdrop, and a stub OCR reader."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from modiste.domain import Box
from modiste.models.ocr import OcrLine

WHITE = (255, 255, 255)


def photo(
    size: tuple[int, int] = (800, 1000),
    product: tuple[float, float, float, float] = (0.08, 0.05, 0.92, 0.95),
    bg: tuple[int, int, int] = WHITE,
    seed: int = 0,
    marks: Sequence[tuple[float, float, float, float]] = (),
) -> np.ndarray:
    """``product`` and ``marks`` are boxes as fractions of the frame (x1, y1, x2, y2)."""
    w, h = size
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[:] = bg
    rng = np.random.default_rng(seed)
    x1, y1, x2, y2 = (round(v * s) for v, s in zip(product, (w, h, w, h), strict=True))
    img[y1:y2, x1:x2] = rng.integers(20, 140, size=(y2 - y1, x2 - x1, 3), dtype=np.uint8)
    for mx1, my1, mx2, my2 in marks:
        img[round(my1 * h) : round(my2 * h), round(mx1 * w) : round(mx2 * w)] = (200, 0, 0)
    return img


def encode(img: np.ndarray, fmt: str = "JPEG", **kw: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}) | kw)
    return buf.getvalue()


class StubOcr:
    """Returns fixed lines (boxes in fractions of the image it is given); counts its calls and
    keeps the regions it was asked to look in (it returns every line regardless)."""

    def __init__(self, lines: Sequence[tuple[str, tuple[float, float, float, float]]] = ()):
        self.lines = list(lines)
        self.calls = 0
        self.regions: list[Sequence[Box] | None] = []

    def read(self, image: Image.Image, regions: Sequence[Box] | None = None) -> list[OcrLine]:
        self.calls += 1
        self.regions.append(regions)
        w, h = image.size
        return [
            OcrLine(text, Box(b[0] * w, b[1] * h, b[2] * w, b[3] * h), 0.99)
            for text, b in self.lines
        ]


def with_text(
    img: np.ndarray, text: str, at: tuple[float, float], size: float = 0.05
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Draw ``text`` (font height ``size`` of the frame) at ``at``; returns the image and the
    text's box as fractions, for the stub OCR."""
    from PIL import ImageDraw, ImageFont

    im = Image.fromarray(img)
    h, w = img.shape[:2]
    font = ImageFont.load_default(size=max(8, round(size * h)))
    draw = ImageDraw.Draw(im)
    xy = (round(at[0] * w), round(at[1] * h))
    draw.text(xy, text, fill=(200, 0, 0), font=font)
    x1, y1, x2, y2 = draw.textbbox(xy, text, font=font)
    return np.array(im), (x1 / w, y1 / h, x2 / w, y2 / h)
