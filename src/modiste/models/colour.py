"""Foreground colour descriptors: what makes "the same item" in a catalog of same-style colourways.

ImageNet features see shape and texture but blur colour, and a catalog's hardest distractors are
the other colours of the same style. A histogram of the garment's own pixels fixes that, if the
pixels are the garment's: the white studio background is dropped (near-white regions connected to
the border, so a white shirt survives). Skin can be suppressed (a model's arms and face fill
front shots), optionally: measured, it hurts on Magento (it also eats beige, pink and orange cloth)
so it is off. Hue gets fine bins (36: same-style colourways differ by a shade); separate grey bins
for low-saturation pixels are an option that also measured worse. Histograms are
Hellinger-normalised (square root, then L2), so a dot product between two of them is the
Bhattacharyya coefficient. See docs/decisions/embeddings.md for the measurements.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True, slots=True)
class ColourConfig:
    """How the histogram is binned and which pixels it counts.

    Attributes:
        h_bins, s_bins, v_bins: Bins of chromatic pixels (hue wraps around).
        grey_bins: Lightness bins of achromatic pixels (saturation below ``grey_sat``).
        grey_sat: Saturation under which hue is meaningless.
        white: Channel minimum above which a pixel counts as studio white.
        skin: Drop skin-coloured pixels unless they are most of the foreground (a beige garment).
        stripes: Horizontal bands of the foreground box, each with its own histogram (upper and
            lower body colours differ for outfits); 1 = one histogram.
        side: Images are shrunk to this long side first (colour needs few pixels).
    """

    h_bins: int = 36
    s_bins: int = 5
    v_bins: int = 5
    grey_bins: int = 0
    grey_sat: float = 0.0
    white: int = 232
    skin: bool = False
    stripes: int = 1
    side: int = 128

    @property
    def dim(self) -> int:
        return (self.h_bins * self.s_bins * self.v_bins + self.grey_bins) * self.stripes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _small_rgb(image: Image.Image, side: int) -> np.ndarray:
    from PIL import Image as PILImage

    im = image.convert("RGB") if image.mode != "RGB" else image
    scale = side / max(im.width, im.height)
    if scale < 1:
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, PILImage.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def foreground_mask(rgb: np.ndarray, white: int = 232) -> np.ndarray:
    """True where a pixel is not studio background.

    Background = near-white pixels connected to the image border; an image with no such border
    (a street photo, a flat lay on a table) is all foreground.
    """
    from scipy import ndimage

    near_white = rgb.min(axis=2) >= white
    if not near_white.any():
        return np.ones(rgb.shape[:2], dtype=bool)
    labels, _ = ndimage.label(near_white)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border = border[border > 0]
    background = np.isin(labels, border)
    fg = ~background
    # A nearly empty mask (an all-white image, a white garment on white) keeps every pixel.
    return fg if fg.mean() > 0.01 else np.ones(rgb.shape[:2], dtype=bool)


def foreground_box(
    image: Image.Image, white: int = 232, margin: float = 0.04
) -> tuple[int, int, int, int]:
    """Bounding box (x1, y1, x2, y2) of the foreground in ``image``'s pixels, slightly padded."""
    small = _small_rgb(image, 160)
    fg = foreground_mask(small, white)
    ys, xs = np.nonzero(fg)
    sx, sy = image.width / small.shape[1], image.height / small.shape[0]
    x1, x2 = xs.min() * sx, (xs.max() + 1) * sx
    y1, y2 = ys.min() * sy, (ys.max() + 1) * sy
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return (
        max(0, int(x1 - mx)),
        max(0, int(y1 - my)),
        min(image.width, int(np.ceil(x2 + mx))),
        min(image.height, int(np.ceil(y2 + my))),
    )


def crop_foreground(image: Image.Image, white: int = 232) -> Image.Image:
    """The image cut to its foreground box (unchanged when the foreground fills it)."""
    box = foreground_box(image, white)
    if box == (0, 0, image.width, image.height) or box[2] - box[0] < 8 or box[3] - box[1] < 8:
        return image
    return image.crop(box)


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-toned pixels by the classic YCrCb box (Chai & Ngan 1999)."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = (r - y) * 0.713 + 128
    cb = (b - y) * 0.564 + 128
    return (cr >= 135) & (cr <= 173) & (cb >= 80) & (cb <= 125) & (y > 60)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rgb.astype(np.float32) / 255.0
    mx, mn = x.max(axis=-1), x.min(axis=-1)
    delta = mx - mn
    s = np.where(mx > 0, delta / np.maximum(mx, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    d = np.maximum(delta, 1e-6)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return (h / 6.0) % 1.0, s, mx


def _histogram(h: np.ndarray, s: np.ndarray, v: np.ndarray, cfg: ColourConfig) -> np.ndarray:
    chroma = s >= cfg.grey_sat if cfg.grey_bins else np.ones(s.shape, dtype=bool)
    hi = np.minimum((h * cfg.h_bins).astype(np.int64), cfg.h_bins - 1)
    s_rel = (s - cfg.grey_sat) / (1 - cfg.grey_sat) if cfg.grey_bins else s
    si = np.minimum((s_rel * cfg.s_bins).astype(np.int64), cfg.s_bins - 1).clip(0)
    vi = np.minimum((v * cfg.v_bins).astype(np.int64), cfg.v_bins - 1)
    n_chroma = cfg.h_bins * cfg.s_bins * cfg.v_bins
    gi = np.minimum((v * cfg.grey_bins).astype(np.int64), max(cfg.grey_bins - 1, 0))
    idx = np.where(chroma, (hi * cfg.s_bins + si) * cfg.v_bins + vi, n_chroma + gi)
    return np.bincount(idx, minlength=n_chroma + cfg.grey_bins).astype(np.float32)


def colour_histogram(image: Image.Image, cfg: ColourConfig | None = None) -> np.ndarray:
    """Hellinger-normalised foreground colour histogram of one image, shape (cfg.dim,)."""
    cfg = cfg or ColourConfig()
    rgb = _small_rgb(image, cfg.side)
    fg = foreground_mask(rgb, cfg.white)
    if cfg.skin:
        skin = skin_mask(rgb) & fg
        if skin.sum() < 0.6 * fg.sum():  # mostly skin-toned: a beige garment, keep it
            fg = fg & ~skin
    h, s, v = _hsv(rgb)
    ys, _ = np.nonzero(fg)
    if ys.size == 0:
        return np.zeros(cfg.dim, dtype=np.float32)
    top, bottom = ys.min(), ys.max() + 1
    edges = np.linspace(top, bottom, cfg.stripes + 1).round().astype(int)
    rows = np.arange(rgb.shape[0])[:, None]
    parts = []
    for a, b in itertools.pairwise(edges):
        band = fg & (rows >= a) & (rows < max(b, a + 1))
        hist = _histogram(h[band], s[band], v[band], cfg)
        total = hist.sum()
        parts.append(np.sqrt(hist / total) if total > 0 else hist)
    out = np.concatenate(parts)
    norm = float(np.linalg.norm(out))
    return (out / norm if norm > 0 else out).astype(np.float32)


def colour_histograms(images: list[Image.Image], cfg: ColourConfig | None = None) -> np.ndarray:
    """Histograms for a batch, (N, cfg.dim) float32."""
    cfg = cfg or ColourConfig()
    if not images:
        return np.zeros((0, cfg.dim), dtype=np.float32)
    return np.stack([colour_histogram(im, cfg) for im in images])
