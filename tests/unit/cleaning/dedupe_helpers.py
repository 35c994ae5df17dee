"""Synthetic photos for the duplicate tests: random shapes, so no two seeds look alike."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance

from modiste.imaging.hashes import ImageFingerprint, fingerprint_file


def photo(
    seed: int, size: tuple[int, int] = (160, 200), bg: tuple[int, int, int] | None = None
) -> Image.Image:
    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, bg or tuple(rng.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x1, y1 = rng.randint(-20, w), rng.randint(-20, h)
        x2, y2 = x1 + rng.randint(20, w // 2), y1 + rng.randint(20, h // 2)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x1, y1, x2, y2), fill=colour)
        else:
            draw.rectangle((x1, y1, x2, y2), fill=colour)
    return im


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def altered(im: Image.Image, kind: str) -> Image.Image:
    w, h = im.size
    if kind == "resize":
        return im.resize((w * 6 // 10, h * 6 // 10), Image.LANCZOS)
    if kind == "brightness":
        return ImageEnhance.Brightness(im).enhance(1.25)
    if kind == "crop":
        return im.crop((w // 20, h // 25, w - w // 20, h - h // 25))
    if kind == "repad":
        canvas = Image.new("RGB", (w * 13 // 10, h * 12 // 10), (255, 255, 255))
        canvas.paste(im, (w // 10, h // 20))
        return canvas
    return im


def fp(im: Image.Image, quality: int = 90) -> ImageFingerprint:
    return fingerprint_file(jpeg(im, quality))
