from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from modiste.models.colour import (
    ColourConfig,
    colour_histogram,
    colour_histograms,
    crop_foreground,
    foreground_box,
    foreground_mask,
)


def _garment(colour: tuple[int, int, int], inner_white: bool = False) -> Image.Image:
    """A coloured block on a studio-white background (optionally with a white patch inside)."""
    im = Image.new("RGB", (100, 120), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.rectangle((20, 30, 79, 99), fill=colour)
    if inner_white:
        d.rectangle((40, 50, 59, 79), fill=(255, 255, 255))
    return im


def test_background_dropped_but_enclosed_white_kept() -> None:
    rgb = np.asarray(_garment((200, 0, 0), inner_white=True))
    fg = foreground_mask(rgb)
    assert not fg[0, 0] and not fg[-1, -1]  # border white is background
    assert fg[60, 50]  # white enclosed by the garment is the garment's
    assert fg[35, 25]


def test_no_white_border_means_all_foreground() -> None:
    rgb = np.full((10, 10, 3), 120, dtype=np.uint8)
    assert foreground_mask(rgb).all()


def test_foreground_box_and_crop() -> None:
    im = _garment((0, 0, 200))
    x1, y1, x2, y2 = foreground_box(im, margin=0.0)
    assert abs(x1 - 20) <= 2 and abs(y1 - 30) <= 2 and abs(x2 - 80) <= 2 and abs(y2 - 100) <= 2
    assert crop_foreground(im).size[0] < im.size[0]


def test_histogram_is_unit_and_colour_specific() -> None:
    red, red2, blue = (
        colour_histogram(_garment(c)) for c in ((200, 0, 0), (190, 10, 5), (0, 0, 200))
    )
    assert np.isclose(np.linalg.norm(red), 1.0)
    assert red @ red2 > 0.9 > red @ blue
    assert red.shape == (ColourConfig().dim,)


def test_background_does_not_count() -> None:
    small = _garment((0, 150, 0))
    big_margin = Image.new("RGB", (300, 300), (255, 255, 255))
    big_margin.paste(small.crop((20, 30, 80, 100)), (100, 100))
    assert colour_histogram(small) @ colour_histogram(big_margin) > 0.9  # edges blend when shrunk


def test_awkward_images() -> None:
    cfg = ColourConfig(stripes=2, grey_bins=4, grey_sat=0.1, skin=True)
    images = [
        Image.new("RGB", (8, 8), (255, 255, 255)),  # all white
        Image.new("RGB", (2000, 50), (10, 20, 30)),
        Image.new("L", (30, 30), 128),
        Image.new("RGB", (1, 1), (255, 0, 0)),
    ]
    out = colour_histograms(images, cfg)
    assert out.shape == (4, cfg.dim) and np.isfinite(out).all()
    assert colour_histograms([], cfg).shape == (0, cfg.dim)
