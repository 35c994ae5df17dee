"""Fabric surfaces: real fabric crops for backgrounds, a weave texture, and drawn stand-ins.

The source photos are 320-512 px, so a close-up cut from them is upscaled several times and
loses the thread-level texture a real macro photo shows; :func:`weave` lays a fine plain, twill
or knit pattern over such crops (an approximation, said so in docs/decisions/shot-generators.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from modiste.training.synth.sources import Layout, SourcePool


def weave(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """A multiplicative luminance map (H, W) around 1.0: plain weave, twill or knit loops."""
    h, w = shape
    pitch = float(rng.uniform(2.5, 7.0))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = float(rng.uniform(-0.3, 0.3))
    u = (xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / pitch
    v = (-xx * np.sin(ang) + yy * np.cos(ang)) * 2 * np.pi / pitch
    kind = int(rng.integers(3))
    if kind == 0:  # plain weave: a checker of over/under threads
        pat = np.sin(u) * np.sin(v)
    elif kind == 1:  # twill: diagonal ribs
        pat = np.sin(u + v) + 0.3 * np.sin(u)
    else:  # knit: columns of V-shaped loops
        pat = np.sin(u + 1.5 * np.abs(np.sin(v / 2))) * (0.6 + 0.4 * np.cos(v))
    noise = rng.normal(0, 0.35, (h, w)).astype(np.float32)
    return np.asarray(1.0 + strength * (0.8 * pat + noise) / 2.0, np.float32)


def apply_weave(image: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Multiply the image by a weave map (the texture a real macro shot would resolve)."""
    from PIL import Image as PILImage

    arr = np.asarray(image.convert("RGB")).astype(np.float32)
    mul = weave(arr.shape[:2], rng, strength)[..., None]
    return PILImage.fromarray(np.clip(arr * mul, 0, 255).astype(np.uint8))


def fabric_patch(
    pool: SourcePool, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[Image.Image, str, str]:
    """A garment-fabric crop at ``size`` (W, H) from a real photo: (image, key, group).

    Labels and tags are photographed on the garment, so their background is fabric; the crop is
    a foreground window with little skin, defocused a little (the camera focuses on the label).
    """
    from PIL import ImageFilter

    from modiste.training.synth.sources import Layout

    w, h = size
    for _ in range(20):
        src = pool.pick(rng, {"flat", "model", "packshot"})
        im = src.load()
        lay = Layout(im)
        box = _fabric_window(lay, rng, w / h)
        if box is None:
            continue
        crop = im.crop(box).resize(size, resample=3)  # bicubic
        crop = apply_weave(crop, rng, float(rng.uniform(0.03, 0.12)))
        crop = crop.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.6))))
        return crop, src.key, src.group
    src = pool.pick(rng, {"flat", "model", "packshot"})
    return src.load().resize(size, resample=3), src.key, src.group


def scene_patch(
    pool: SourcePool, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[Image.Image, str, str]:
    """Most of a real consumer photo (a garment on a bed or floor) at ``size`` (W, H): the
    surroundings of a label photographed with the garment it hangs from."""
    w, h = size
    src = pool.pick(rng, {"flat"})
    im = src.load()
    aspect = w / h
    ch = min(im.height, im.width / aspect) * float(rng.uniform(0.6, 1.0))
    cw = ch * aspect
    x0 = float(rng.uniform(0, im.width - cw + 1e-6))
    y0 = float(rng.uniform(0, im.height - ch + 1e-6))
    crop = im.crop((int(x0), int(y0), int(x0 + cw), int(y0 + ch))).resize(size, resample=3)
    return crop, src.key, src.group


def _fabric_window(
    lay: Layout, rng: np.random.Generator, aspect: float
) -> tuple[int, int, int, int] | None:
    if lay.box is None:
        return None
    x0, y0, x1, y1 = lay.box
    side = float(rng.uniform(0.25, 0.5)) * min(x1 - x0, y1 - y0)
    cw, ch = int(max(side * aspect**0.5, 16)), int(max(side / aspect**0.5, 16))
    for _ in range(12):
        cx = float(rng.uniform(x0 + cw / 2, max(x0 + cw / 2 + 1, x1 - cw / 2)))
        cy = float(rng.uniform(y0 + ch / 2, max(y0 + ch / 2 + 1, y1 - ch / 2)))
        box = (int(cx - cw / 2), int(cy - ch / 2), int(cx + cw / 2), int(cy + ch / 2))
        if lay.share(lay.mask, box) > 0.9 and lay.share(lay.skin, box) < 0.1:
            return box
    return None


def drawn_garment(
    rng: np.random.Generator, side: int, long_sleeves: bool, white: bool
) -> Image.Image:
    """A shirt shape with stripes or dots and a pocket: a stand-in source when no data set."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    w, h = int(side * 0.75), side
    bg = (250, 250, 250) if white else tuple(int(v) for v in rng.integers(90, 200, 3))
    im = PILImage.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    colour = tuple(int(v) for v in rng.integers(0, 255, 3))
    cx, top, bot = w / 2, h * 0.12, h * 0.9
    body = [(cx - w * 0.22, top), (cx + w * 0.22, top), (cx + w * 0.24, bot), (cx - w * 0.24, bot)]
    d.polygon(body, fill=colour)
    arm = 0.42 if long_sleeves else 0.2
    for s in (-1, 1):
        d.polygon(
            [
                (cx + s * w * 0.2, top),
                (cx + s * w * 0.46, top + h * arm),
                (cx + s * w * 0.36, top + h * (arm + 0.05)),
                (cx + s * w * 0.2, top + h * 0.25),
            ],
            fill=colour,
        )
    d.ellipse([cx - w * 0.07, top - h * 0.03, cx + w * 0.07, top + h * 0.05], fill=bg)
    ink = tuple(255 - c for c in colour)
    if rng.random() < 0.5:
        for yi in range(int(top + h * 0.3), int(bot), 9):
            d.line([(cx - w * 0.2, yi), (cx + w * 0.2, yi)], fill=ink, width=2)
    else:
        for _ in range(30):
            x, y = rng.uniform(cx - w * 0.2, cx + w * 0.2), rng.uniform(top + h * 0.3, bot)
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=ink)
    d.rectangle([cx + w * 0.05, top + h * 0.15, cx + w * 0.15, top + h * 0.26], outline=ink)
    arr = np.asarray(im).astype(np.int16) + rng.integers(-6, 7, (h, w, 3))
    return PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def even_light(image: Image.Image, strength: float) -> Image.Image:
    """Divide out the low-frequency shading (folds, a side lamp, a body's curve).

    Real fabric close-ups are shot flat and top-down under even light; a window cut from a
    garment on a model keeps the shading of its folds, which no fabric photo shows. ``strength``
    1 removes the shading wholly, 0 leaves the crop as it is.
    """
    from PIL import Image as PILImage

    arr = flatten_light(np.asarray(image.convert("RGB")).astype(np.float32), strength)
    return PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def flatten_light(arr: np.ndarray, strength: float, scale: float = 0.12) -> np.ndarray:
    """:func:`even_light` on a float (H, W, 3) array; shading is what varies over more than
    ``scale`` of the short side."""
    import cv2

    lum = np.ascontiguousarray(arr.mean(axis=2), np.float32)
    low = cv2.GaussianBlur(lum, (0, 0), scale * min(lum.shape))
    gain = (float(low.mean()) / np.maximum(low, 4.0)) ** strength
    return np.asarray(arr * gain[..., None], np.float32)


def auto_exposure(image: Image.Image, target: float) -> Image.Image:
    """Scale the light so the mean lightness is ``target`` (0-255), as a camera metering a
    frame-filling fabric does: a black cloth comes out dark grey, not black."""
    from PIL import Image as PILImage

    arr = np.asarray(image.convert("RGB")).astype(np.float32)
    gain = float(np.clip(target / max(float(arr.mean()), 1.0), 0.7, 2.5))
    return PILImage.fromarray(np.clip(arr * gain, 0, 255).astype(np.uint8))


def stitch_line(
    image: Image.Image, rng: np.random.Generator, straight: bool = False
) -> Image.Image:
    """A machine-stitched seam across a fabric close-up: a ridge of shading and a dashed thread.

    Lockstitch seen from the top is a row of short, evenly spaced dashes (2-4 mm stitch length,
    so 10-40 px at close-up zoom) in a thread that matches or contrasts the fabric; the seam
    allowance underneath lifts the fabric beside it, which a top light shows as a bright and a
    dark band along the line. ``straight`` draws the seam as a flat close-up shows it: a straight
    line through the middle of the frame, mostly squared to it (a photographer lines the seam up),
    in a thin thread of short stitches, with little ridge.
    """
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFilter

    w, h = image.size
    arr = np.asarray(image.convert("RGB")).astype(np.float32)
    ang = float(rng.uniform(0, np.pi))
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    bend = float(rng.uniform(-0.0004, 0.0004))
    width = float(rng.uniform(0.02, 0.06)) * min(w, h)
    lift = float(rng.uniform(0.08, 0.22))
    if straight:
        if rng.random() < 0.7:
            ang = float(rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.04))
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        bend, lift = 0.0, float(rng.uniform(0.0, 0.1))
    dx, dy = np.cos(ang), np.sin(ang)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xx - cx) * dx + (yy - cy) * dy
    dist = (xx - cx) * -dy + (yy - cy) * dx - bend * along**2  # signed distance to the seam
    ridge = 1.0 + lift * np.tanh(dist / width) * np.exp(-np.abs(dist) / (2 * width))
    out = PILImage.fromarray(np.clip(arr * ridge[..., None], 0, 255).astype(np.uint8))
    fabric = arr.reshape(-1, 3).mean(axis=0)
    if rng.random() < 0.6:  # thread dyed to match, a shade lighter or darker
        thread = np.clip(fabric * rng.uniform(0.6, 1.4), 0, 255)
    else:
        thread = rng.integers(0, 256, 3).astype(np.float32)
    pitch = float(rng.uniform(0.03, 0.09)) * max(w, h)
    gap = pitch * float(rng.uniform(0.15, 0.35))
    thick = max(2, int(pitch * rng.uniform(0.12, 0.3)))
    offset = float(rng.uniform(-0.6, 0.6)) * width
    if straight:  # 1-3 px of thread and 1.5-4 mm stitches at the backbone's 224 px
        px224 = max(w, h) / 224
        pitch = float(rng.uniform(4.0, 10.0)) * px224
        gap = pitch * float(rng.uniform(0.05, 0.25))
        thick = max(1, round(float(rng.uniform(1.0, 3.0)) * px224))
    layer = PILImage.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    colour = (*(int(v) for v in thread), 235)
    span = float(np.hypot(w, h))
    s = -span
    while s < span:
        pts = []
        for t in (s, s + pitch - gap):
            px = cx + t * dx - (offset + bend * t * t) * dy
            py = cy + t * dy + (offset + bend * t * t) * dx
            pts.append((px, py))
        d.line(pts, fill=colour, width=thick)
        s += pitch
    layer = layer.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.2))))
    out = out.convert("RGBA")
    out.alpha_composite(layer)
    return out.convert("RGB")
