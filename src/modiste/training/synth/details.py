"""Where a detail close-up sits on a real garment photo, by simple geometry of its foreground.

Approximate by design (see docs/decisions/shot-generators.md): on a garment laid flat, the collar
is the top-centre of the foreground box, the hem its bottom band, a sleeve the upper left or
right side, a cuff (sleeve_hem) the lowest foreground point of the outer columns; on any photo,
material is a low-edge window wholly inside the garment at high zoom, print a high-edge, colourful
window, a feature a compact knot of edges (pockets, zips, buttons) with a calmer ring around it;
near_zoom is a torso window of an on-model photo.
"""

from __future__ import annotations

import numpy as np

from modiste.training.synth.sources import LONG_SLEEVES, TOPS, Layout

Box = tuple[int, int, int, int]
PLAIN_COLOUR_MAX = 0.3  # ~19 Lab units: a cell further from the median is another colour
# class -> (source kinds, garment labels or None for any)
DETAIL_SOURCES: dict[str, tuple[set[str], set[str] | None]] = {
    "collar": ({"flat"}, TOPS),
    "sleeve": ({"flat"}, LONG_SLEEVES | {"T-Shirt", "Polo"}),
    "sleeve_hem": ({"flat"}, LONG_SLEEVES),
    "hem": ({"flat"}, None),
    "material": ({"flat", "model", "packshot", "closeup"}, None),
    "print": ({"flat", "model"}, None),
    "feature": ({"flat", "model", "packshot"}, None),
    "near_zoom": ({"model"}, None),
}


def _window(cx: float, cy: float, ch: float, aspect: float, lay: Layout) -> Box:
    """A (W/H = aspect) window centred at (cx, cy), ``ch`` tall, shifted to stay in the photo."""
    ch = min(ch, lay.h, lay.w / aspect)
    cw = ch * aspect
    x0 = float(np.clip(cx - cw / 2, 0, lay.w - cw))
    y0 = float(np.clip(cy - ch / 2, 0, lay.h - ch))
    return int(x0), int(y0), int(x0 + cw), int(y0 + ch)


def _scan(
    lay: Layout, rng: np.random.Generator, side: float, aspect: float, n: int = 48
) -> list[tuple[Box, float, float, float]]:
    """Random windows inside the garment: (box, edge share, garment share, skin share)."""
    assert lay.box is not None
    x0, y0, x1, y1 = lay.box
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        b = _window(float(cx), float(cy), side, aspect, lay)
        out.append((b, lay.share(lay.edges, b), lay.share(lay.mask, b), lay.share(lay.skin, b)))
    return out


def _ring_contrast(lay: Layout, b: Box) -> float:
    """Edge share of the window's centre minus that of its outer ring (a compact object)."""
    x0, y0, x1, y1 = b
    qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
    inner = (x0 + qx, y0 + qy, x1 - qx, y1 - qy)
    return lay.share(lay.edges, inner) - lay.share(lay.edges, b)


def shows_outline(lay: Layout, box: Box) -> bool:
    """Whether a crop holds the garment's edge: some background as well as garment.

    A hem, collar or cuff close-up is defined by that edge; a crop wholly inside the garment
    is a material photo whatever the geometry meant it to be.
    """
    return 0.15 < lay.share(lay.mask, box) < 0.9


def material_box(
    lay: Layout, rng: np.random.Generator, aspect: float, min_side: float
) -> Box | None:
    """A plain fabric window wholly inside the garment, at least ``min_side`` px tall.

    ``min_side`` bounds the upscaling: a window cut near the source's own resolution keeps the
    weave the source shows instead of a blur (real fabric close-ups are sharp). Of 48 random
    windows between ``min_side`` and half the garment's short side, only those of one fabric
    colour count (every 3x3 cell within :data:`PLAIN_COLOUR_MAX` of the median cell, the
    ``frame_colour_max`` cue once the broad shading of the light is divided out: no print, logo,
    pocket or second garment), and one of the calmest quarter (fewest edges) is taken.
    """
    from modiste.models.cues import frame_cues
    from modiste.training.synth.fabric import flatten_light

    if lay.box is None:
        return None
    x0, y0, x1, y1 = lay.box
    top = 0.5 * min(x1 - x0, y1 - y0)
    lo = max(min_side, 0.12 * min(x1 - x0, y1 - y0))
    if top < lo:
        return None
    wins = []
    for w in _scan(lay, rng, float(rng.uniform(lo, top)), aspect):
        (bx0, by0, bx1, by1), _, garment, skin = w
        if garment <= 0.98 or skin >= 0.02 or by1 - by0 < min_side:
            continue
        lit = flatten_light(lay.rgb[by0:by1, bx0:bx1].astype(np.float32), 1.0, scale=0.3)
        if frame_cues(np.clip(lit, 0, 255).astype(np.uint8))[1] < PLAIN_COLOUR_MAX:
            wins.append(w)
    if not wins:
        return None
    wins.sort(key=lambda w: w[1])
    return wins[int(rng.integers(max(1, len(wins) // 4)))][0]


def detail_box(
    cls: str, lay: Layout, rng: np.random.Generator, aspect: float, garment: str = ""
) -> Box | None:
    """The crop for ``cls`` on this photo, or None when the photo does not show one."""
    if lay.box is None:
        return None
    x0, y0, x1, y1 = lay.box
    bw, bh = x1 - x0, y1 - y0
    bcx = (x0 + x1) / 2
    j = float(rng.normal(0, 0.03))
    if cls == "collar":
        return _window(
            bcx + j * bw,
            y0 + rng.uniform(0.08, 0.16) * bh,
            rng.uniform(0.28, 0.42) * bh,
            aspect,
            lay,
        )
    if cls == "hem":
        return _window(
            bcx + 4 * j * bw,
            y1 - rng.uniform(0.06, 0.12) * bh,
            rng.uniform(0.22, 0.35) * bh,
            aspect,
            lay,
        )
    if cls == "sleeve":
        left = rng.random() < 0.5
        part = (
            lay.mask[y0 : y0 + int(0.75 * bh), x0 : x0 + int(0.45 * bw)]
            if left
            else lay.mask[y0 : y0 + int(0.75 * bh), x1 - int(0.45 * bw) : x1]
        )
        ys, xs = np.nonzero(part)
        if len(xs) < 50:
            return None
        cx = (x0 if left else x1 - int(0.45 * bw)) + float(xs.mean())
        return _window(cx, y0 + float(ys.mean()), rng.uniform(0.45, 0.65) * bh, aspect, lay)
    if cls == "sleeve_hem":
        left = rng.random() < 0.5
        cols = slice(x0, x0 + int(0.22 * bw)) if left else slice(x1 - int(0.22 * bw), x1)
        ys, xs = np.nonzero(lay.mask[:, cols])
        if len(ys) < 30:
            return None
        low = ys >= np.percentile(ys, 95)
        cx = cols.start + float(xs[low].mean())
        return _window(
            cx, float(ys[low].mean()) - 0.04 * bh, rng.uniform(0.18, 0.28) * bh, aspect, lay
        )
    if cls == "near_zoom":
        return _window(
            bcx + 3 * j * bw,
            y0 + rng.uniform(0.3, 0.6) * bh,
            rng.uniform(0.22, 0.38) * bh,
            aspect,
            lay,
        )
    side = min(bw, bh)
    if cls == "material":
        return material_box(lay, rng, aspect, min_side=0.0)
    if cls == "print":
        wins = [
            w
            for w in _scan(lay, rng, rng.uniform(0.2, 0.35) * side, aspect)
            if w[2] > 0.97 and w[3] < 0.05
        ]
        scored = []
        for b, edge, _, _ in wins:
            x_0, y_0, x_1, y_1 = b
            sat = lay.rgb[y_0:y_1, x_0:x_1].astype(np.float32)
            colour = float(sat.std(axis=(0, 1)).mean())  # folds shade; prints change colour
            if colour > 30 and edge > 0.08:
                scored.append((edge * colour, b))
        if not scored:
            return None
        scored.sort(key=lambda s: -s[0])
        return scored[int(rng.integers(max(1, len(scored) // 5)))][1]
    if cls == "feature":
        wins = [
            w
            for w in _scan(lay, rng, rng.uniform(0.15, 0.25) * side, aspect)
            if w[2] > 0.85 and w[3] < 0.05
        ]
        ranked = sorted(
            ((_ring_contrast(lay, w[0]) + w[1], w[0]) for w in wins), key=lambda s: -s[0]
        )
        ranked = [r for r in ranked if r[0] > 0.08]
        if not ranked:
            return None
        return ranked[int(rng.integers(max(1, len(ranked) // 5)))][1]
    raise ValueError(f"no detail geometry for {cls!r}")
