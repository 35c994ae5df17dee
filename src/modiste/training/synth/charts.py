"""Size charts as shops post them: a measurement table in one of several layouts and languages.

Layouts: full grid, zebra rows, a coloured header band, or transposed (sizes as rows); sizes as
letters, EU numbers, or several systems at once; values in cm or inches; sometimes a garment
outline with measurement arrows beside the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modiste.training.synth import text as tx

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

LETTERS = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL"]
SYSTEMS = {"EU": range(32, 56, 2), "US": range(0, 24, 2), "UK": range(4, 28, 2)}


def _table(rng: np.random.Generator, words: dict[str, str]) -> list[list[str]]:
    """Header row + one row per measurement (or per size system), as text cells."""
    n = int(rng.integers(4, 8))
    first = int(rng.integers(0, len(LETTERS) - n + 1))
    header = [words["size"]]
    style = int(rng.integers(3))
    if style == 0:
        header += LETTERS[first : first + n]
    else:
        header += [str(v) for v in list(SYSTEMS["EU"])[first : first + n]]
    rows = [header]
    if style == 2:  # other size systems under the EU numbers
        for sys_name in ("US", "UK"):
            rows.append([sys_name] + [str(v) for v in list(SYSTEMS[sys_name])[first : first + n]])
    inches = rng.random() < 0.25
    keys = ["chest", "waist", "hips", "length", "sleeve", "inseam"]
    for key in rng.choice(keys, int(rng.integers(2, 5)), replace=False):
        base = {"chest": 80, "waist": 62, "hips": 86, "length": 62, "sleeve": 58, "inseam": 76}[
            str(key)
        ]
        step = float(rng.uniform(2, 6))
        vals = [base + step * (first + k) for k in range(n)]
        if inches:
            cells = [f"{v / 2.54:.1f}" for v in vals]
        elif rng.random() < 0.3:
            cells = [f"{int(v)}-{int(v + step * 0.8)}" for v in vals]
        else:
            cells = [f"{int(v)}" for v in vals]
        rows.append([words[str(key)] + (" (in)" if inches else " (cm)"), *cells])
    return rows


def _outline(d: ImageDraw.ImageDraw, box: tuple[float, float, float, float], ink: tuple) -> None:
    """A T-shirt outline with chest and length arrows (the diagram many charts carry)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pts = [
        (0.35, 0.05),
        (0.65, 0.05),
        (0.95, 0.25),
        (0.85, 0.38),
        (0.75, 0.3),
        (0.75, 0.95),
        (0.25, 0.95),
        (0.25, 0.3),
        (0.15, 0.38),
        (0.05, 0.25),
        (0.35, 0.05),
    ]
    d.line([(x0 + px * w, y0 + py * h) for px, py in pts], fill=ink, width=2)
    d.line([(x0 + 0.27 * w, y0 + 0.4 * h), (x0 + 0.73 * w, y0 + 0.4 * h)], fill=ink, width=1)
    d.line([(x0 + 0.5 * w, y0 + 0.1 * h), (x0 + 0.5 * w, y0 + 0.93 * h)], fill=ink, width=1)
    for ax, ay in ((0.27, 0.4), (0.73, 0.4), (0.5, 0.1), (0.5, 0.93)):
        cx, cy = x0 + ax * w, y0 + ay * h
        d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=ink)


def size_chart(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A chart filling a ``size`` (W, H) image: title, table, maybe a diagram (RGB)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    w, h = size
    lang = str(rng.choice(tx.LANGS))
    words = tx.CHART_WORDS[lang]
    rows = _table(rng, words)
    if rng.random() < 0.25:  # transposed: one row per size
        rows = [list(r) for r in zip(*rows, strict=True)]
    paper = (
        (255, 255, 255) if rng.random() < 0.7 else tuple(int(v) for v in rng.integers(225, 256, 3))
    )
    ink = tuple(int(v) for v in rng.integers(0, 70, 3))
    accent = tuple(int(v) for v in rng.integers(40, 220, 3))
    im = PILImage.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(im)
    margin = int(min(w, h) * rng.uniform(0.04, 0.1))
    top = margin
    if rng.random() < 0.8:
        f = tx.font(rng, min(w, h) * rng.uniform(0.06, 0.09), bold=True)
        d.text((w / 2, top), tx.styled(words["title"], rng), fill=ink, font=f, anchor="ma")
        top += int(f.size * 1.8)
    diagram = rng.random() < 0.35
    tx0, tx1 = margin, w - margin
    if diagram:
        dw = int((w - 2 * margin) * 0.3)
        _outline(d, (w - margin - dw, top, w - margin, top + dw * 1.1), ink)
        tx1 = w - margin - dw - margin // 2
    n_rows, n_cols = len(rows), len(rows[0])
    cell_h = min((h - top - margin) / n_rows, (h - top - margin) / 4)
    first_w = (tx1 - tx0) * rng.uniform(0.25, 0.38)
    col_w = (tx1 - tx0 - first_w) / max(n_cols - 1, 1)
    f = tx.font(rng, cell_h * rng.uniform(0.4, 0.55))
    layout = int(rng.integers(3))  # 0 grid, 1 zebra, 2 header band
    for r, row in enumerate(rows):
        y = top + r * cell_h
        if layout == 1 and r % 2 == 1:
            d.rectangle([tx0, y, tx1, y + cell_h], fill=tuple(min(255, c + 15) for c in accent))
        if layout == 2 and r == 0:
            d.rectangle([tx0, y, tx1, y + cell_h], fill=accent)
        for c, cell in enumerate(row):
            x = tx0 + (0 if c == 0 else first_w + (c - 1) * col_w)
            cw = first_w if c == 0 else col_w
            fc = f
            while fc.getlength(cell) > cw * 0.92 and fc.size > 6:
                fc = tx.resized(fc, fc.size - 1)
            colour = paper if (layout == 2 and r == 0) else ink
            d.text((x + cw / 2, y + cell_h / 2), cell, fill=colour, font=fc, anchor="mm")
        if layout == 0 or r == 0:
            d.line([(tx0, y + cell_h), (tx1, y + cell_h)], fill=ink, width=1)
    if layout == 0:
        bottom = top + n_rows * cell_h
        d.rectangle([tx0, top, tx1, bottom], outline=ink, width=1)
        for c in range(1, n_cols):
            x = tx0 + first_w + (c - 1) * col_w
            d.line([(x, top), (x, bottom)], fill=ink, width=1)
    return im
