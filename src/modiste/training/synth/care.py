"""Care labels with ISO 3758 pictograms, and woven or printed brand labels, rendered flat (RGBA).

Symbols are vector shapes drawn at 4x and downsampled (smooth edges at any size): the wash tub
(temperature number or dots, hand, bars), the bleach triangle, the tumble-dry square with circle
and dots, natural drying lines, the iron with dots, the professional-care circle with a letter;
each may be crossed out. They follow ISO 3758's shapes, not its exact proportions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modiste.training.synth import text as tx

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

Colour = tuple[int, int, int]
SS = 4  # supersampling factor for the symbol row


def _cross(d: ImageDraw.ImageDraw, x: float, y: float, s: float, ink: Colour, lw: int) -> None:
    d.line([(x + 0.05 * s, y + 0.05 * s), (x + 0.95 * s, y + 0.95 * s)], fill=ink, width=lw)
    d.line([(x + 0.95 * s, y + 0.05 * s), (x + 0.05 * s, y + 0.95 * s)], fill=ink, width=lw)


def _dots(
    d: ImageDraw.ImageDraw, cx: float, cy: float, n: int, r: float, gap: float, ink: Colour
) -> None:
    for k in range(n):
        x = cx + (k - (n - 1) / 2) * gap
        d.ellipse([x - r, cy - r, x + r, cy + r], fill=ink)


def _bars(
    d: ImageDraw.ImageDraw, x: float, y: float, s: float, n: int, ink: Colour, lw: int
) -> None:
    for k in range(n):
        yy = y + s * (1.02 + 0.1 * k)
        d.line([(x + 0.1 * s, yy), (x + 0.9 * s, yy)], fill=ink, width=lw)


def draw_symbol(
    d: ImageDraw.ImageDraw,
    kind: str,
    x: float,
    y: float,
    s: float,
    ink: Colour,
    rng: np.random.Generator,
) -> None:
    """One pictogram in the square (x, y, s): ``wash``, ``bleach``, ``dry``, ``iron``, ``pro``."""
    lw = max(2, int(s * 0.06))
    crossed = rng.random() < 0.3
    if kind == "wash":
        top = y + 0.3 * s
        d.line([(x + 0.05 * s, top), (x + 0.18 * s, y + 0.85 * s)], fill=ink, width=lw)
        d.line([(x + 0.18 * s, y + 0.85 * s), (x + 0.82 * s, y + 0.85 * s)], fill=ink, width=lw)
        d.line([(x + 0.82 * s, y + 0.85 * s), (x + 0.95 * s, top)], fill=ink, width=lw)
        wave = [
            (x + 0.05 * s + t * 0.9 * s, top + 0.05 * s * np.sin(t * 4 * np.pi))
            for t in np.linspace(0, 1, 24)
        ]
        d.line(wave, fill=ink, width=lw)
        style = int(rng.integers(3))
        if crossed:
            pass
        elif style == 0:
            temp = str(rng.choice(["30", "40", "60", "95"]))
            f = tx.font(rng, s * 0.32, bold=True)
            d.text((x + 0.5 * s, y + 0.6 * s), temp, fill=ink, font=f, anchor="mm")
        elif style == 1:
            _dots(d, x + 0.5 * s, y + 0.6 * s, int(rng.integers(1, 5)), 0.04 * s, 0.13 * s, ink)
        else:  # hand wash: a hand dipping into the tub
            d.ellipse(
                [x + 0.4 * s, y + 0.05 * s, x + 0.62 * s, y + 0.42 * s], outline=ink, width=lw
            )
        _bars(d, x, y, s, int(rng.integers(3)), ink, lw)
    elif kind == "bleach":
        d.polygon(
            [(x + 0.5 * s, y + 0.1 * s), (x + 0.95 * s, y + 0.9 * s), (x + 0.05 * s, y + 0.9 * s)],
            outline=ink,
            width=lw,
        )
        if not crossed and rng.random() < 0.5:  # non-chlorine only
            for k in (0.0, 0.14):
                d.line(
                    [(x + (0.36 + k) * s, y + 0.85 * s), (x + (0.56 + k) * s, y + 0.45 * s)],
                    fill=ink,
                    width=lw,
                )
    elif kind == "dry":
        d.rectangle([x + 0.08 * s, y + 0.08 * s, x + 0.92 * s, y + 0.92 * s], outline=ink, width=lw)
        if rng.random() < 0.7:  # tumble dry
            d.ellipse([x + 0.2 * s, y + 0.2 * s, x + 0.8 * s, y + 0.8 * s], outline=ink, width=lw)
            if not crossed:
                _dots(d, x + 0.5 * s, y + 0.5 * s, int(rng.integers(0, 3)), 0.05 * s, 0.14 * s, ink)
        else:  # natural drying: line, flat, drip
            k = int(rng.integers(3))
            if k == 0:
                for xx in (0.4, 0.5, 0.6):
                    d.line(
                        [(x + xx * s, y + 0.3 * s), (x + xx * s, y + 0.75 * s)], fill=ink, width=lw
                    )
            elif k == 1:
                d.line(
                    [(x + 0.25 * s, y + 0.5 * s), (x + 0.75 * s, y + 0.5 * s)], fill=ink, width=lw
                )
            else:
                d.arc(
                    [x + 0.1 * s, y - 0.3 * s, x + 0.9 * s, y + 0.5 * s],
                    30,
                    150,
                    fill=ink,
                    width=lw,
                )
    elif kind == "iron":
        body = [
            (x + 0.05 * s, y + 0.8 * s),
            (x + 0.95 * s, y + 0.8 * s),
            (x + 0.85 * s, y + 0.4 * s),
            (x + 0.35 * s, y + 0.4 * s),
            (x + 0.15 * s, y + 0.55 * s),
        ]
        d.polygon(body, outline=ink, width=lw)
        d.line([(x + 0.4 * s, y + 0.4 * s), (x + 0.45 * s, y + 0.25 * s)], fill=ink, width=lw)
        d.line([(x + 0.45 * s, y + 0.25 * s), (x + 0.85 * s, y + 0.25 * s)], fill=ink, width=lw)
        if not crossed:
            _dots(d, x + 0.55 * s, y + 0.62 * s, int(rng.integers(1, 4)), 0.04 * s, 0.13 * s, ink)
    else:  # professional care
        d.ellipse([x + 0.1 * s, y + 0.1 * s, x + 0.9 * s, y + 0.9 * s], outline=ink, width=lw)
        if not crossed:
            letter = str(rng.choice(["P", "F", "W", "A"]))
            f = tx.font(rng, s * 0.45, bold=False)
            d.text((x + 0.5 * s, y + 0.52 * s), letter, fill=ink, font=f, anchor="mm")
            _bars(d, x, y, s, int(rng.integers(2)), ink, lw)
    if crossed:
        _cross(d, x, y, s, ink, lw)


def symbol_row(rng: np.random.Generator, s: int, ink: Colour, paper: Colour) -> Image.Image:
    """The five ISO 3758 symbols in their standard order, each ``s`` px, on ``paper``."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    kinds = ["wash", "bleach", "dry", "iron", "pro"]
    if rng.random() < 0.3:
        kinds = kinds[: int(rng.integers(3, 5))]
    big = s * SS
    gap = int(big * rng.uniform(0.15, 0.4))
    im = PILImage.new("RGB", (len(kinds) * (big + gap), int(big * 1.3)), paper)
    d = ImageDraw.Draw(im)
    for k, kind in enumerate(kinds):
        draw_symbol(d, kind, k * (big + gap) + gap / 2, 0, big, ink, rng)
    return im.resize((im.width // SS, im.height // SS), resample=1)  # LANCZOS


def _palette(rng: np.random.Generator) -> tuple[Colour, Colour]:
    """(paper, ink): white/cream satin with dark print, or black tape with white print."""
    if rng.random() < 0.2:
        return (int(rng.integers(15, 50)),) * 3, (235, 235, 230)  # type: ignore[return-value]
    paper = tuple(int(v) for v in rng.integers(228, 256, 3))
    ink = tuple(int(v) for v in rng.integers(10, 80, 3))
    return paper, ink  # type: ignore[return-value]


def care_label(rng: np.random.Generator, width: int) -> Image.Image:
    """A long care tape: symbols, fibre composition in 1-4 languages, care text, origin (RGBA)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    paper, ink = _palette(rng)
    fs = max(9, int(width * rng.uniform(0.06, 0.095)))
    langs = list(rng.choice(tx.LANGS, int(rng.integers(1, 5)), replace=False))
    lines: list[tuple[str, bool]] = []  # (text, bold)
    comp = tx.composition(rng)
    _, parts = tx.vocabulary()
    if rng.random() < 0.3:
        part = parts[sorted(parts)[int(rng.integers(len(parts)))]]
        lines.append((tx.styled(part[int(rng.integers(len(part)))], rng) + ":", True))
    for _ in range(len(langs) if rng.random() < 0.6 else 1):
        for pct, fibre in comp:
            lines.append((f"{pct}% {tx.styled(tx.spelling(fibre, rng), rng)}", False))
    temp = int(rng.choice([30, 40, 60]))
    for lang in langs:
        phrases = tx.CARE_PHRASES[str(lang)]
        for p in rng.choice(len(phrases), min(len(phrases), int(rng.integers(1, 4))), False):
            lines.append((phrases[int(p)].format(t=temp), False))
    if rng.random() < 0.7:
        lang = str(langs[0])
        country = tx.COUNTRIES[int(rng.integers(len(tx.COUNTRIES)))]
        lines.append((tx.MADE_IN[lang].format(c=country), False))
    if rng.random() < 0.4:
        lines.append((f"RN {int(rng.integers(10000, 150000))}", False))
    line_h = int(fs * 1.35)
    sym = symbol_row(rng, max(12, int(width * rng.uniform(0.13, 0.18))), ink, paper)
    if sym.width > width * 0.92:
        sym = sym.resize((int(width * 0.92), int(sym.height * width * 0.92 / sym.width)))
    height = int(width * 0.15) + len(lines) * line_h + sym.height + int(width * 0.15)
    im = PILImage.new("RGB", (width, height), paper)
    d = ImageDraw.Draw(im)
    y = int(width * 0.08)
    sym_first = rng.random() < 0.6
    if sym_first:
        im.paste(sym, ((width - sym.width) // 2, y))
        y += sym.height + line_h // 2
    centred = rng.random() < 0.6
    face, bold_face = tx.font(rng, fs, bold=False), tx.font(rng, fs, bold=True)
    for t, bold in lines:
        f = tx.resized(bold_face if bold else face, fs)
        while f.getlength(t) > width * 0.9 and f.size > 7:
            f = tx.resized(f, f.size - 1)
        xx = width / 2 if centred else width * 0.06
        d.text((xx, y), t, fill=ink, font=f, anchor="ma" if centred else "la")
        y += line_h
    if not sym_first:
        im.paste(sym, ((width - sym.width) // 2, y + line_h // 3))
    _satin(im, rng)
    return _with_alpha(im, rng)


def brand_label(rng: np.random.Generator, width: int) -> Image.Image:
    """A woven brand label: a short band with a made-up brand name, maybe size and origin."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    colours = [(20, 20, 20), (25, 35, 80), (240, 238, 230), (250, 250, 250), (150, 20, 30)]
    paper = colours[int(rng.integers(len(colours)))]
    ink: Colour = (235, 225, 200) if sum(paper) < 300 else (20, 20, 30)
    if rng.random() < 0.3:
        ink = (190, 150, 60)  # gold thread
    height = int(width * rng.uniform(0.3, 0.6))
    im = PILImage.new("RGB", (width, height), paper)
    d = ImageDraw.Draw(im)
    name = brand_name(rng)
    f = tx.font(rng, height * rng.uniform(0.3, 0.5))
    while f.getlength(name) > width * 0.85 and f.size > 8:
        f = tx.resized(f, f.size - 2)
    small = rng.random() < 0.6
    cy = height * (0.42 if small else 0.5)
    d.text((width / 2, cy), name, fill=ink, font=f, anchor="mm")
    if small:
        extra = str(rng.choice(["MADE IN ITALY", "EST. 1987", "PARIS", "M", "L", "S / 36"]))
        d.text(
            (width / 2, height * 0.8),
            extra,
            fill=ink,
            font=tx.resized(f, height * 0.13),
            anchor="mm",
        )
    if rng.random() < 0.5:
        m = int(height * 0.08)
        d.rectangle([m, m, width - m, height - m], outline=ink, width=max(1, height // 40))
    arr = np.asarray(im, np.float32)
    rows = 1.0 + 0.08 * np.sin(np.arange(height) * np.pi / rng.uniform(1.2, 2.2))[:, None, None]
    cols = 1.0 + 0.05 * np.sin(np.arange(width) * np.pi / rng.uniform(1.2, 2.2))[None, :, None]
    fold = np.ones(width, np.float32)
    k = int(width * rng.uniform(0.03, 0.08))
    fold[:k] = fold[-k:] = 0.7  # the folded ends of a loop label
    arr = arr * rows * cols * fold[None, :, None]
    im = PILImage.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return _with_alpha(im, rng)


def printed_neck_label(fabric: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A tagless (heat-transfer) label printed onto the fabric itself: brand, size, origin."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    w, h = fabric.size
    layer = PILImage.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    s = min(w, h)
    y = h * rng.uniform(0.25, 0.4)
    d.text((w / 2, y), brand_name(rng), fill=255, font=tx.font(rng, s * 0.1), anchor="mm")
    size = str(rng.choice(["S", "M", "L", "XL", "38", "40", "M/M"]))
    d.text((w / 2, y + s * 0.15), size, fill=255, font=tx.font(rng, s * 0.14, True), anchor="mm")
    for k, (pct, fibre) in enumerate(tx.composition(rng)):
        t = f"{pct}% {tx.styled(tx.spelling(fibre, rng), rng)}"
        d.text(
            (w / 2, y + s * (0.27 + 0.06 * k)),
            t,
            fill=255,
            font=tx.font(rng, s * 0.05),
            anchor="mm",
        )
    lum = np.asarray(fabric.convert("L"), np.float32).mean()
    ink = (25, 25, 25) if lum > 110 else (235, 235, 235)
    alpha = layer.point(lambda v: int(v * rng.uniform(0.75, 0.95)))
    out = fabric.convert("RGB").copy()
    out.paste(PILImage.new("RGB", (w, h), ink), (0, 0), alpha)
    return out


def brand_name(rng: np.random.Generator) -> str:
    """A pronounceable made-up brand (real brand names are trademarks)."""
    syll = ["ka", "lo", "mi", "ra", "ve", "no", "sa", "tu", "ber", "lin", "mar", "dor", "el", "an"]
    name = "".join(str(rng.choice(syll)) for _ in range(int(rng.integers(2, 4))))
    return name.upper() if rng.random() < 0.6 else name.title()


def _satin(im: Image.Image, rng: np.random.Generator) -> None:
    """A faint woven-tape sheen in place (horizontal ribs)."""
    from PIL import Image as PILImage

    arr = np.asarray(im, np.float32)
    ribs = 1.0 + 0.04 * np.sin(np.arange(im.height) * rng.uniform(0.8, 2.0))[:, None, None]
    im.paste(PILImage.fromarray(np.clip(arr * ribs, 0, 255).astype(np.uint8)))


def _with_alpha(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """RGBA with an opaque label; a cut or frayed end sometimes (jagged bottom edge)."""
    from PIL import Image as PILImage

    rgba = im.convert("RGBA")
    if rng.random() < 0.3:
        a = np.asarray(rgba.getchannel("A")).copy()
        h = a.shape[0]
        jag = rng.integers(0, max(2, h // 60), a.shape[1])
        for x, j in enumerate(jag):
            a[h - int(j) :, x] = 0
        rgba.putalpha(PILImage.fromarray(a))
    return rgba
