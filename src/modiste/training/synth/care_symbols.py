"""Care-label rows of named ISO 3758 pictograms, rendered as phone photos with their boxes.

:mod:`modiste.training.synth.care` draws a random symbol of a family for shot training; the
pictogram reader needs to know *which* symbol it drew, so this module draws a named class
(:data:`modiste.cleaning.care_symbols.SYMBOL_CLASSES`) and returns where each one landed. Shapes
vary as real labels do: stroke width, tub walls above the water line, crosses that overshoot,
ISO and ASTM drying marks, the shade corner, bars under a tub; then text lines around the row,
tilt, shear, scale (10-40 px symbols), blur, noise and JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modiste.cleaning.care_symbols import SYMBOL_CLASSES
from modiste.training.synth import text as tx
from modiste.training.synth.care import _bars, _dots

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

Colour = tuple[int, int, int]
Box = tuple[float, float, float, float]
SS = 3  # drawn at 3x, then shrunk: smooth strokes at any size


def _family(label: str) -> int:
    """Position in a label's usual left-to-right order (wash, bleach, dry, iron, professional)."""
    if "clean" in label:
        return 5
    for k, key in enumerate(("wash", "bleach", "tumble", "dry", "iron")):
        if key in label:
            return k
    return 5


def _cross(d: ImageDraw.ImageDraw, x: float, y: float, s: float, ink: Colour, lw: int, e: float):
    d.line([(x - e * s, y - e * s), (x + (1 + e) * s, y + (1 + e) * s)], fill=ink, width=lw)
    d.line([(x + (1 + e) * s, y - e * s), (x - e * s, y + (1 + e) * s)], fill=ink, width=lw)


def _tub(d: ImageDraw.ImageDraw, x: float, y: float, s: float, ink: Colour, lw: int, rng) -> None:
    top = y + rng.uniform(0.25, 0.38) * s
    rim = top - rng.uniform(0.0, 0.15) * s  # walls often rise above the water line
    inset = rng.uniform(0.1, 0.2) * s
    d.line([(x + 0.04 * s, rim), (x + inset, y + 0.88 * s)], fill=ink, width=lw)
    d.line([(x + inset, y + 0.88 * s), (x + s - inset, y + 0.88 * s)], fill=ink, width=lw)
    d.line([(x + s - inset, y + 0.88 * s), (x + 0.96 * s, rim)], fill=ink, width=lw)
    amp, waves = rng.uniform(0.03, 0.07) * s, rng.uniform(2.5, 4.5)
    wave = [
        (x + 0.06 * s + t * 0.88 * s, top + amp * np.sin(t * waves * 2 * np.pi))
        for t in np.linspace(0, 1, 28)
    ]
    d.line(wave, fill=ink, width=lw)


def _hand(d: ImageDraw.ImageDraw, x: float, y: float, s: float, ink: Colour, lw: int, rng) -> None:
    """A hand dipping into the tub: palm, thumb and finger strokes (filled or outlined)."""
    cx, cy = x + rng.uniform(0.42, 0.58) * s, y + rng.uniform(0.4, 0.5) * s
    fill = ink if rng.random() < 0.4 else None
    d.ellipse([cx - 0.14 * s, cy - 0.2 * s, cx + 0.14 * s, cy + 0.15 * s], outline=ink, fill=fill)
    for k in range(int(rng.integers(2, 5))):
        fx = cx - 0.1 * s + k * 0.07 * s
        d.line([(fx, cy - 0.18 * s), (fx + 0.02 * s, cy - 0.36 * s)], fill=ink, width=lw)
    d.line([(cx + 0.12 * s, cy - 0.02 * s), (cx + 0.26 * s, cy - 0.14 * s)], fill=ink, width=lw)


def _iron(d: ImageDraw.ImageDraw, x: float, y: float, s: float, ink: Colour, lw: int, rng) -> None:
    top = y + rng.uniform(0.3, 0.42) * s
    nose = x + rng.uniform(0.02, 0.12) * s
    d.line(
        [
            (x + 0.9 * s, top),
            (x + 0.3 * s, top),
            (nose, y + 0.82 * s),
            (x + 0.96 * s, y + 0.82 * s),
        ],
        fill=ink,
        width=lw,
        joint="curve",
    )
    d.line([(x + 0.96 * s, y + 0.82 * s), (x + 0.9 * s, top)], fill=ink, width=lw)
    if rng.random() < 0.7:  # the handle
        hy = top - rng.uniform(0.1, 0.18) * s
        d.line([(x + 0.4 * s, top), (x + 0.45 * s, hy), (x + 0.85 * s, hy)], fill=ink, width=lw)


def _letter(d, x: float, y: float, s: float, ink: Colour, ch: str, rng) -> None:
    f = tx.font(rng, s * rng.uniform(0.4, 0.55), bold=bool(rng.random() < 0.5))
    d.text((x + 0.5 * s, y + 0.52 * s), ch, fill=ink, font=f, anchor="mm")


def draw_care_symbol(
    d: ImageDraw.ImageDraw,
    label: str,
    x: float,
    y: float,
    s: float,
    ink: Colour,
    rng: np.random.Generator,
) -> None:
    """The pictogram of class ``label`` in the square (x, y, s)."""
    lw = max(2, int(s * rng.uniform(0.05, 0.14)))
    dot_r = s * rng.uniform(0.035, 0.055)
    crossed = label.startswith("do_not_")
    if "wash" in label:
        _tub(d, x, y, s, ink, lw, rng)
        if label.startswith("wash_dot"):
            _dots(d, x + 0.5 * s, y + 0.62 * s, int(label[-1]), dot_r, 0.14 * s, ink)
        elif label.startswith("wash_"):
            f = tx.font(rng, s * rng.uniform(0.28, 0.38), bold=bool(rng.random() < 0.6))
            d.text((x + 0.5 * s, y + 0.63 * s), label[5:], fill=ink, font=f, anchor="mm")
        elif label == "hand_wash":
            _hand(d, x, y, s, ink, lw, rng)
        if not crossed and rng.random() < 0.3:
            _bars(d, x, y, s, int(rng.integers(1, 3)), ink, lw)
    elif "bleach" in label:
        tri = [
            (x + 0.5 * s, y + 0.08 * s),
            (x + 0.96 * s, y + 0.9 * s),
            (x + 0.04 * s, y + 0.9 * s),
        ]
        d.line([*tri, tri[0]], fill=ink, width=lw, joint="curve")
        if label == "bleach_non_chlorine":
            for k in (0.0, 0.16):
                d.line(
                    [(x + (0.34 + k) * s, y + 0.86 * s), (x + (0.54 + k) * s, y + 0.42 * s)],
                    fill=ink,
                    width=lw,
                )
    elif "dry_clean" in label or "wet_clean" in label:
        d.ellipse([x + 0.08 * s, y + 0.08 * s, x + 0.92 * s, y + 0.92 * s], outline=ink, width=lw)
        if label != "do_not_dry_clean":
            _letter(d, x, y, s, ink, "W" if "wet" in label else label[-1].upper(), rng)
        if not crossed and rng.random() < 0.2:
            _bars(d, x, y, s, 1, ink, lw)
    elif "iron" in label:
        _iron(d, x, y, s, ink, lw, rng)
        n = {"iron_low": 1, "iron_medium": 2, "iron_high": 3}.get(label, 0)
        _dots(d, x + 0.58 * s, y + 0.64 * s, n, dot_r, 0.14 * s, ink)
    else:  # the drying square
        d.rectangle([x + 0.08 * s, y + 0.08 * s, x + 0.92 * s, y + 0.92 * s], outline=ink, width=lw)
        if "tumble" in label:
            d.ellipse([x + 0.2 * s, y + 0.2 * s, x + 0.8 * s, y + 0.8 * s], outline=ink, width=lw)
            n = {"tumble_dry_low": 1, "tumble_dry_medium": 2, "tumble_dry_high": 3}.get(label, 0)
            _dots(d, x + 0.5 * s, y + 0.5 * s, n, dot_r * 1.2, 0.15 * s, ink)
        else:
            _natural(d, label, x, y, s, ink, lw, rng)
    if crossed:
        _cross(d, x, y, s, ink, lw, float(rng.uniform(-0.04, 0.15)))


def _natural(d, label: str, x: float, y: float, s: float, ink: Colour, lw: int, rng) -> None:
    """Line (ISO bar or ASTM sagging line), drip (2-3 bars) and flat drying; maybe in the shade."""
    if label == "line_dry" and rng.random() < 0.4:
        d.arc([x + 0.1 * s, y - 0.3 * s, x + 0.9 * s, y + 0.5 * s], 30, 150, fill=ink, width=lw)
    elif label == "dry_flat":
        d.line([(x + 0.25 * s, y + 0.5 * s), (x + 0.75 * s, y + 0.5 * s)], fill=ink, width=lw)
    else:
        xs = {
            "line_dry": (0.5,),
            "drip_dry": (0.4, 0.6) if rng.random() < 0.5 else (0.35, 0.5, 0.65),
        }
        for xx in xs[label]:
            d.line([(x + xx * s, y + 0.25 * s), (x + xx * s, y + 0.75 * s)], fill=ink, width=lw)
    if rng.random() < 0.3:  # in the shade: a diagonal across the top-left corner
        d.line([(x + 0.08 * s, y + 0.35 * s), (x + 0.35 * s, y + 0.08 * s)], fill=ink, width=lw)


@dataclass
class RenderedRow:
    """A rendered label photo and, per pictogram, its class and box (pixels of ``image``)."""

    image: Image.Image
    symbols: list[tuple[str, Box]]


def _text_line(rng: np.random.Generator) -> str:
    kind = int(rng.integers(4))
    if kind == 0:
        return " ".join(f"{p}% {tx.spelling(f, rng)}" for p, f in tx.composition(rng))
    if kind == 1:
        phrases = tx.CARE_PHRASES[str(rng.choice(tx.LANGS))]
        return phrases[int(rng.integers(len(phrases)))].format(t=int(rng.choice([30, 40, 60])))
    if kind == 2:
        return f"{int(rng.integers(10000, 99999))}-{int(rng.integers(1000000, 9999999))}"
    return tx.MADE_IN[str(rng.choice(tx.LANGS))].format(c=str(rng.choice(tx.COUNTRIES))).upper()


def _hanzi_line(d, x: float, y: float, size: float, ink: Colour, rng: np.random.Generator) -> None:
    """A line of made-up CJK-like glyphs: the bundled fonts have none, and Chinese lines beside
    the symbols (洗涤说明) are what the reader most needs to learn to leave out."""
    lw = max(1, int(size * rng.uniform(0.06, 0.12)))
    for k in range(int(rng.integers(3, 9))):
        gx = x + k * size * rng.uniform(1.0, 1.25)
        parts = [(0.0, 1.0)] if rng.random() < 0.5 else [(0.0, 0.4), (0.5, 1.0)]
        for a, b in parts:
            for _ in range(int(rng.integers(2, 6))):
                kind = int(rng.integers(5))
                u0, v0 = rng.uniform(a, b), rng.uniform(0, 1)
                if kind == 0:  # horizontal stroke
                    pts = [(a, v0), (b, v0)]
                elif kind == 1:  # vertical stroke
                    pts = [(u0, 0.0), (u0, rng.uniform(0.5, 1.0))]
                elif kind == 2:  # falling stroke
                    pts = [(u0, v0), (u0 + rng.uniform(-0.3, 0.3), min(1.0, v0 + 0.4))]
                elif kind == 3:  # a small box (口)
                    q = [a + 0.15 * (b - a), v0 * 0.6, b - 0.15 * (b - a), v0 * 0.6 + 0.3]
                    d.rectangle(
                        [gx + q[0] * size, y + q[1] * size, gx + q[2] * size, y + q[3] * size],
                        outline=ink,
                        width=lw,
                    )
                    continue
                else:  # a dot
                    pts = [(u0, v0), (u0 + 0.08, v0 + 0.08)]
                d.line([(gx + p * size, y + q * size) for p, q in pts], fill=ink, width=lw)


def render_row(
    rng: np.random.Generator, labels: list[str] | None = None, size: float | None = None
) -> RenderedRow:
    """A label with one pictogram row (``labels``, else 3-6 random classes in the usual order)
    and text lines around it, shot like a phone photo; symbols end up ``size`` px (else 10-40)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if labels is None:
        pick = rng.choice(len(SYMBOL_CLASSES), int(rng.integers(3, 7)), replace=False)
        labels = sorted((SYMBOL_CLASSES[int(k)] for k in pick), key=_family)
    final = float(size if size is not None else rng.uniform(10, 40))
    s = int(rng.uniform(36, 56)) * SS  # drawing size; the photo step brings it to ``final``
    paper = tuple(int(v) for v in rng.integers(200, 256, 3))
    ink = tuple(int(v) for v in rng.integers(5, 90, 3))
    gap = s * rng.uniform(0.2, 0.7)
    row_w = len(labels) * s + (len(labels) - 1) * gap
    fs = int(s * rng.uniform(0.45, 0.9))
    above, below = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    margin = int(s * rng.uniform(0.3, 0.8))
    width = int(row_w + 2 * margin + s * rng.uniform(0, 2))
    height = int((above + below) * fs * 1.4 + s * 1.6 + 2 * margin)
    im = PILImage.new("RGB", (width, height), paper)  # type: ignore[arg-type]
    d = ImageDraw.Draw(im)
    face = tx.font(rng, fs, bold=bool(rng.random() < 0.5))
    y = margin
    for _ in range(above):
        if rng.random() < 0.4:
            _hanzi_line(d, margin, y, fs, ink, rng)  # type: ignore[arg-type]
        else:
            d.text((margin, y), _text_line(rng), fill=ink, font=face)  # type: ignore[arg-type]
        y += int(fs * 1.4)
    y0 = y + s * 0.2
    boxes: list[tuple[str, Box]] = []
    for k, label in enumerate(labels):
        x0 = margin + k * (s + gap)
        probe = PILImage.new("RGB", (int(2 * s), int(2 * s)), 0)
        sub = rng.bit_generator.state
        draw_care_symbol(ImageDraw.Draw(probe), label, s / 2, s / 2, s, (255,) * 3, rng)
        rng.bit_generator.state = sub  # draw the same variant on the label
        draw_care_symbol(d, label, x0, y0, s, ink, rng)  # type: ignore[arg-type]
        bx = probe.getbbox() or (s / 2, s / 2, 1.5 * s, 1.5 * s)
        boxes.append(
            (
                label,
                (x0 + bx[0] - s / 2, y0 + bx[1] - s / 2, x0 + bx[2] - s / 2, y0 + bx[3] - s / 2),
            )
        )
    y = int(y0 + s * rng.uniform(0.95, 1.3))  # text often runs right under the row
    for _ in range(below):
        x = margin + s * rng.uniform(-0.3, 1.0)
        if rng.random() < 0.3:
            _hanzi_line(d, x, y, fs, ink, rng)  # type: ignore[arg-type]
        else:
            d.text((x, y), _text_line(rng), fill=ink, font=face)  # type: ignore[arg-type]
        y += int(fs * 1.4)
    if rng.random() < 0.3:  # or beside it
        d.text((margin + row_w + gap, y0 + s * 0.3), _text_line(rng), fill=ink, font=face)  # type: ignore[arg-type]
    return _photograph(im, boxes, final / s, final, rng)


def _photograph(
    label: Image.Image,
    boxes: list[tuple[str, Box]],
    scale: float,
    final: float,
    rng: np.random.Generator,
) -> RenderedRow:
    """Tilt, shear and shrink the label onto a darker background; blur, noise, JPEG.

    The photo is framed as phone shots of labels are: a symbol spans 1.5-6 % of its long side
    (2.5 % on the real labels at hand), so the reader sees symbols at the scale it will meet.
    """
    import io

    from PIL import Image as PILImage
    from PIL import ImageFilter

    w, h = label.size
    label = label.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample=1)
    scale = label.width / w  # shrunk first (LANCZOS): the affine warp below does not antialias
    boxes = [(n, (b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale)) for n, b in boxes]
    angle = np.deg2rad(float(np.clip(rng.normal(0, 12), -30, 30)))
    shear = rng.uniform(-0.15, 0.15)
    sx, sy = rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)
    c, s_ = np.cos(angle), np.sin(angle)
    a = np.array([[c, -s_], [s_, c]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([sx, sy])
    w, h = label.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) @ a.T
    span = np.ptp(corners, axis=0)
    side = max(float(span.max()) + 16, final / rng.uniform(0.015, 0.06))
    size = (int(max(span[0] + 16, side * rng.uniform(0.45, 1.0))), int(side))
    if rng.random() < 0.5:
        size = (size[1], size[0])
    size = (max(size[0], int(span[0]) + 17), max(size[1], int(span[1]) + 17))
    off = -corners.min(axis=0) + [
        rng.uniform(8, max(8.0, size[0] - span[0] - 8)),
        rng.uniform(8, max(8.0, size[1] - span[1] - 8)),
    ]
    inv = np.linalg.inv(a)
    t = inv @ -off  # output (u, v) -> input inv @ ((u, v) - off)
    coeffs = (inv[0, 0], inv[0, 1], t[0], inv[1, 0], inv[1, 1], t[1])
    bg = tuple(int(v) for v in rng.integers(20, 120, 3))
    rgba = label.convert("RGBA")
    shade = rng.uniform(0.6, 1.4, (3, 3, 3)) * np.array(bg, float)  # uneven light, cloth
    field = PILImage.fromarray(np.clip(shade, 0, 255).astype(np.uint8)).resize(size, resample=2)
    out = field.convert("RGB")
    warped = rgba.transform(size, PILImage.Transform.AFFINE, coeffs, PILImage.Resampling.BICUBIC)
    out.paste(warped, (0, 0), warped)
    moved: list[tuple[str, Box]] = []
    for name, (x0, y0, x1, y1) in boxes:
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float) @ a.T + off
        moved.append((name, (*pts.min(axis=0).tolist(), *pts.max(axis=0).tolist())))  # type: ignore[misc]
    out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.0, 1.5))))
    arr = np.asarray(out, np.float32) + rng.normal(0, rng.uniform(0, 6), (size[1], size[0], 1))
    out = PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=int(rng.integers(35, 95)))
    buf.seek(0)
    return RenderedRow(PILImage.open(buf).convert("RGB"), moved)
