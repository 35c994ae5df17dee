"""Verify a candidate pair by aligning the two fingerprint thumbnails.

Hashes alone confuse a cropped copy with a different photo, and a Luma-style recolour (the same
studio shot, another garment colour) with a copy. Aligning fixes both: one thumbnail is searched
for inside the other at a few zoom levels (a crop is a sub-window of the original, with the
aspect change telling its shape), lightness is compared by normalised cross-correlation (blind
to brightness and contrast changes), and chroma is compared at the aligned position (blind to
brightness, not to recolouring). It works on 32 px thumbnails, so a pair costs tens of µs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modiste.imaging.hashes import THUMB, ImageFingerprint

#: Zoom levels tried: how much of the larger image the smaller one may cover (per axis).
SCALES = (1.0, 0.92, 0.85, 0.78)
#: A same-framing correlation this high needs no zoom search (saves most of the cost).
EARLY_ACCEPT = 0.97
#: Cost of one Lab unit of chroma gap, in correlation units (tuned with `accept`).
CHROMA_WEIGHT = 0.01
#: Only pairs already this well aligned get the finer zoom search.
REFINE_ABOVE = 0.8
#: Chroma is compared on blocks of this many thumbnail pixels a side.
CHROMA_POOL = 4


@dataclass(frozen=True, slots=True)
class Alignment:
    """Best alignment of two thumbnails.

    Attributes:
        ncc: normalised cross-correlation of lightness at the best offset (-1..1).
        chroma: mean absolute a/b difference there (Lab units, 0 = same colours).
        scale: zoom of the best alignment (1.0 = same framing; < 1 = one is a crop).
    """

    ncc: float
    chroma: float
    scale: float

    def score(self, chroma_weight: float = CHROMA_WEIGHT) -> float:
        """One number to threshold: correlation, penalised by colour difference."""
        return self.ncc - chroma_weight * self.chroma


def _window(ratio: float, s: float) -> tuple[float, float] | None:
    """Per-axis fraction of the big thumbnail covered by the small image, or None if too thin."""
    sx, sy = (s, s / ratio) if ratio >= 1 else (s * ratio, s)
    if min(sx, sy) < min(SCALES) - 1e-6 or max(sx, sy) > 1 + 1e-6:
        return None
    return sx, sy


@dataclass(slots=True)
class _Best:
    ncc: float = -1.0
    scale: float = 1.0
    patch: np.ndarray | None = None  # a/b of the big thumbnail under the template
    tmpl: np.ndarray | None = None  # a/b of the resized small thumbnail


def _search(
    big: np.ndarray,
    small: np.ndarray,
    ratio: float,
    best: _Best,
    scales: tuple[float, ...] = SCALES,
) -> None:
    import cv2

    big_l = big[:, :, 0].astype(np.float32)
    for s in scales:
        win = _window(ratio, s)
        if win is None:
            continue
        tw, th = max(4, round(win[0] * THUMB)), max(4, round(win[1] * THUMB))
        tmpl = (
            small
            if (tw, th) == small.shape[1::-1]
            else cv2.resize(small, (tw, th), interpolation=cv2.INTER_AREA)
        )
        tl = tmpl[:, :, 0].astype(np.float32)
        if float(cv2.meanStdDev(tl)[1][0, 0]) < 1e-3:  # flat: correlation undefined
            continue
        res = cv2.matchTemplate(big_l, tl, cv2.TM_CCOEFF_NORMED)
        _, ncc, _, (x, y) = cv2.minMaxLoc(res)
        if ncc > best.ncc:
            best.ncc, best.scale = float(ncc), s
            best.patch, best.tmpl = big[y : y + th, x : x + tw, 1:], tmpl[:, :, 1:]


def _chroma_difference(p: np.ndarray, q: np.ndarray) -> float:
    """Mean a/b distance after the best global chroma gain.

    Brightening an RGB photo scales its Lab chroma too, so the gain (clipped to what a 30 %
    brightness change does) is fitted away first; a recolour changes hue, which no gain undoes.
    """
    import cv2

    # pool first: a recolour covers a region, while a one-pixel misalignment of sharp colour
    # edges would otherwise look like a colour change
    half = (max(1, p.shape[1] // CHROMA_POOL), max(1, p.shape[0] // CHROMA_POOL))
    p = cv2.resize(np.ascontiguousarray(p), half, interpolation=cv2.INTER_AREA)
    q = cv2.resize(np.ascontiguousarray(q), half, interpolation=cv2.INTER_AREA)
    a = p.reshape(-1, 2).astype(np.float32) - 128.0
    b = q.reshape(-1, 2).astype(np.float32) - 128.0
    gain = float((a * b).sum() / max(float((b * b).sum()), 1e-6))
    gain = min(max(gain, 0.7), 1.45)
    return float(np.abs(a - gain * b).sum(axis=1).mean())


def align(a: ImageFingerprint, b: ImageFingerprint) -> Alignment:
    """Best alignment of ``b`` inside ``a`` or ``a`` inside ``b`` (whichever is the crop)."""
    best = _Best()
    _search(a.thumb, b.thumb, 1.0, best, scales=(1.0,))  # same framing, stretched
    if best.ncc < EARLY_ACCEPT:
        ratio = b.aspect / max(a.aspect, 1e-6)
        _search(a.thumb, b.thumb, ratio, best)
        inner = best.ncc
        _search(b.thumb, a.thumb, 1.0 / max(ratio, 1e-6), best)
        if REFINE_ABOVE <= best.ncc < EARLY_ACCEPT and best.scale < 1.0:
            # the zoom grid is coarse: try half-steps on both sides of the winner
            big, small, r = (a, b, ratio) if inner >= best.ncc else (b, a, 1.0 / max(ratio, 1e-6))
            steps = (best.scale - 0.035, best.scale + 0.035)
            _search(big.thumb, small.thumb, r, best, scales=steps)
    if best.patch is None or best.tmpl is None:
        return Alignment(ncc=-1.0, chroma=255.0, scale=1.0)
    return Alignment(
        ncc=best.ncc, chroma=_chroma_difference(best.patch, best.tmpl), scale=best.scale
    )
