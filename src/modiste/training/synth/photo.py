"""What a phone camera does to a label: perspective, curl, shadow, hand, seam, light, blur, JPEG.

Every function takes the generator's ``rng`` so that one seed gives one image, byte for byte.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


def curl(rgba: Image.Image, rng: np.random.Generator, amount: float) -> Image.Image:
    """Bend a flat RGBA label like fabric: rows sag on a sine, and the bend shades the surface."""
    import cv2
    from PIL import Image as PILImage

    arr = np.asarray(rgba.convert("RGBA"))
    h, w = arr.shape[:2]
    pad = int(amount * h) + 2
    arr = cv2.copyMakeBorder(arr, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
    hh = arr.shape[0]
    phase, freq = float(rng.uniform(0, np.pi)), float(rng.uniform(0.5, 1.5))
    xs = np.arange(w, dtype=np.float32)
    sag = amount * h * np.sin(np.pi * freq * xs / w + phase)
    map_x = np.tile(xs, (hh, 1))
    map_y = np.arange(hh, dtype=np.float32)[:, None] + sag[None, :]
    out = cv2.remap(arr, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR)
    shade = 1.0 - 0.25 * amount / 0.08 * np.cos(np.pi * freq * xs / w + phase) ** 2
    out = out.astype(np.float32)
    out[..., :3] *= np.clip(shade, 0.6, 1.1)[None, :, None]
    return PILImage.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGBA")


def perspective(rgba: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Tilt the label as a hand-held photo does: each corner moves up to ``strength`` of a side."""
    import cv2
    from PIL import Image as PILImage

    arr = np.asarray(rgba.convert("RGBA"))
    h, w = arr.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    jitter = rng.uniform(-strength, strength, (4, 2)) * np.array([w, h])
    dst = (src + jitter).astype(np.float32)
    dst -= dst.min(axis=0)
    size = (int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1)
    m = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(arr, m, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    return PILImage.fromarray(out, "RGBA")


def paste_with_shadow(
    bg: Image.Image, fg: Image.Image, xy: tuple[int, int], rng: np.random.Generator
) -> Image.Image:
    """Paste an RGBA layer with a soft drop shadow (the label lifts off the fabric a little)."""
    from PIL import Image as PILImage
    from PIL import ImageFilter

    base = bg.convert("RGB").copy()
    alpha = fg.getchannel("A")
    off = (int(rng.integers(-4, 8)), int(rng.integers(2, 10)))
    shadow = PILImage.new("L", base.size, 0)
    shadow.paste(alpha, (xy[0] + off[0], xy[1] + off[1]))
    shadow = shadow.filter(ImageFilter.GaussianBlur(float(rng.uniform(3, 9))))
    dark = np.asarray(shadow, np.float32)[..., None] / 255.0 * float(rng.uniform(0.25, 0.55))
    arr = np.asarray(base, np.float32) * (1.0 - dark)
    base = PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    base.paste(fg, xy, fg)
    return base


def seam(
    image: Image.Image, y: int, fabric: Image.Image, rng: np.random.Generator, top: bool = True
) -> Image.Image:
    """Cover the band above (or below) ``y`` with folded fabric and a stitch line: sewn in."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    out = image.copy()
    w, h = out.size
    band = (0, 0, w, y) if top else (0, y, w, h)
    if band[3] - band[1] < 2:
        return out
    strip = fabric.resize(out.size).crop(band)
    arr = np.asarray(strip, np.float32) * float(rng.uniform(0.7, 0.95))
    strip = PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    out.paste(strip, band[:2])
    d = ImageDraw.Draw(out)
    edge = y
    shade = tuple(int(v) for v in np.asarray(strip).reshape(-1, 3).mean(axis=0) * 0.5)
    d.line([(0, edge), (w, edge)], fill=shade, width=2)
    stitch_y = edge - int(rng.integers(4, 12)) if top else edge + int(rng.integers(4, 12))
    thread = tuple(int(v) for v in rng.integers(0, 255, 3))
    step = int(rng.integers(6, 12))
    for x in range(int(rng.integers(0, step)), w, step):
        d.line([(x, stitch_y), (x + step * 0.6, stitch_y)], fill=thread, width=2)
    return out.filter(ImageFilter.SMOOTH) if rng.random() < 0.5 else out


def hand(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A skin-coloured thumb and fingers entering from one side, holding the label."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    w, h = image.size
    tone = np.array([rng.uniform(150, 240), rng.uniform(105, 185), rng.uniform(80, 160)])
    layer = PILImage.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    side = int(rng.integers(4))  # 0 left, 1 right, 2 bottom, 3 top
    thick = float(rng.uniform(0.07, 0.12)) * min(w, h)
    length = float(rng.uniform(0.18, 0.4)) * min(w, h)
    along = h if side in (0, 1) else w
    start = float(rng.uniform(0.1, 0.6)) * along
    n = int(rng.integers(1, 4))
    for k in range(n + 1):  # n fingers, then the palm behind them
        c = start + k * thick * 0.95
        t, ln = (thick, length * float(rng.uniform(0.8, 1.1))) if k < n else (n * thick, length / 2)
        c = c if k < n else start + (n - 1) * thick / 2
        rect = {
            0: (-t, c - t / 2, ln, c + t / 2),
            1: (w - ln, c - t / 2, w + t, c + t / 2),
            2: (c - t / 2, h - ln, c + t / 2, h + t),
            3: (c - t / 2, -t, c + t / 2, ln),
        }[side]
        d.rounded_rectangle(rect, radius=min(t, thick) / 2, fill=255)
    mask = layer.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.0, 3.0))))
    yy = np.linspace(0.85, 1.1, h, dtype=np.float32)[:, None, None]
    skin = np.clip(tone[None, None, :] * yy * np.ones((h, w, 3), np.float32), 0, 255)
    skin_im = PILImage.fromarray(skin.astype(np.uint8))
    out = image.convert("RGB").copy()
    out.paste(skin_im, (0, 0), mask)
    return out


def camera(image: Image.Image, rng: np.random.Generator, sharp: bool = False) -> Image.Image:
    """Light, colour cast, vignetting, defocus or shake, sensor noise, then a JPEG round trip."""
    import cv2
    from PIL import Image as PILImage

    arr = np.asarray(image.convert("RGB"), np.float32) / 255.0
    h, w = arr.shape[:2]
    arr = arr ** float(rng.uniform(0.8, 1.25))  # exposure curve
    arr = arr * float(rng.uniform(0.8, 1.12)) * rng.uniform(0.92, 1.08, 3)  # light, white balance
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    arr *= (1.0 - float(rng.uniform(0.0, 0.5)) * r2)[..., None]  # vignetting
    if rng.random() < 0.35:  # a lamp or window from one side
        grad = np.linspace(float(rng.uniform(0.75, 1.0)), 1.0, w, dtype=np.float32)
        arr *= (grad if rng.random() < 0.5 else grad[::-1])[None, :, None]
    out = np.clip(arr * 255.0, 0, 255).astype(np.uint8)
    if not sharp:
        if rng.random() < 0.25:  # hand shake: a short line kernel
            k = int(rng.integers(3, 8))
            ker = np.zeros((k, k), np.float32)
            ker[k // 2, :] = 1.0 / k
            rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1)
            ker = np.asarray(cv2.warpAffine(ker, rot, (k, k)), np.float32)
            out = np.asarray(cv2.filter2D(out, -1, ker / max(ker.sum(), 1e-6)), np.uint8)
        else:
            sigma = float(rng.uniform(0.0, 1.4))
            if sigma > 0.3:
                out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), np.uint8)
    noise = rng.normal(0, float(rng.uniform(1.0, 6.0)), out.shape)
    out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return jpeg(PILImage.fromarray(out), int(rng.integers(55, 93)))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """Encode and decode as JPEG (the block noise of a shared phone photo)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with PILImage.open(buf) as im:
        return im.convert("RGB")
