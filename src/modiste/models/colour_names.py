"""A garment's colour in words ("red", "navy" is "blue"), from its photo's foreground pixels.

Text search matches colour words against it ("red jacket" finds a jacket whose feed never says
red). The foreground is what :func:`modiste.models.colour.foreground_mask` keeps (the studio
background is dropped); skin is dropped too, unless it is most of the foreground (a beige
garment), because a model's arms and face would otherwise make every front shot "orange". Each
pixel gets one of the basic colour names below by hue, saturation and value; the photo's colour
is the most common name if it covers at least ``MIN_SHARE`` of the pixels left, else none
(a striped or printed garment has no one colour). Measured against the Magento colour labels in
docs/decisions/embeddings.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modiste.models.colour import _hsv, _small_rgb, foreground_mask, skin_mask

if TYPE_CHECKING:
    from PIL import Image

# The names text search knows (search/data/synonyms.yaml lists their words in each language).
NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink",
         "brown", "beige")  # fmt: skip
MIN_SHARE = 0.35
# Hue bands (degrees) of the chromatic names; red wraps around 0. The green/blue and blue/purple
# edges were picked on half the Magento styles (teal is "green" there, violet "purple").
_HUES = ((15, "red"), (40, "orange"), (70, "yellow"), (195, "green"), (240, "blue"),
         (290, "purple"), (340, "pink"), (360, "red"))  # fmt: skip


def pixel_names(rgb: np.ndarray) -> np.ndarray:
    """An index into :data:`NAMES` for every pixel of an (..., 3) uint8 array."""
    h, s, v = _hsv(rgb)
    deg = h * 360.0
    out = np.full(h.shape, NAMES.index("gray"), dtype=np.int8)
    chroma = (s >= 0.25) & (v >= 0.25)
    band = np.searchsorted(np.asarray([b for b, _ in _HUES]), deg, side="right")
    band = np.minimum(band, len(_HUES) - 1)
    hue_name = np.asarray([NAMES.index(n) for _, n in _HUES], dtype=np.int8)[band]
    out = np.where(chroma, hue_name, out)
    warm = chroma & (deg >= 15) & (deg < 40)
    out = np.where(warm & (v < 0.6), NAMES.index("brown"), out)  # dark orange
    pale_red = chroma & (hue_name == NAMES.index("red")) & (s < 0.45) & (v > 0.75)
    out = np.where(pale_red, NAMES.index("pink"), out)
    pale_warm = (s >= 0.12) & (s < 0.25) & (v >= 0.6) & (deg >= 20) & (deg < 60)
    out = np.where(pale_warm, NAMES.index("beige"), out)
    out = np.where((s < 0.25) & ~pale_warm & (v >= 0.85), NAMES.index("white"), out)
    out = np.where(v < 0.25, NAMES.index("black"), out)
    return out


def colour_name(image: Image.Image, white: int = 232) -> str | None:
    """The garment's colour name, or None when no single colour covers enough of it."""
    rgb = _small_rgb(image, 96)
    fg = foreground_mask(rgb, white)
    skin = skin_mask(rgb) & fg
    if skin.sum() < 0.6 * fg.sum():  # a beige garment is mostly "skin": keep it then
        fg = fg & ~skin
    if not fg.any():
        return None
    counts = np.bincount(pixel_names(rgb[fg]), minlength=len(NAMES))
    best = int(np.argmax(counts))
    return NAMES[best] if counts[best] >= MIN_SHARE * counts.sum() else None
