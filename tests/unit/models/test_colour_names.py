"""Colour names from a garment photo's foreground (issue #14 item 8: "red jacket")."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from modiste.models.colour_names import colour_name

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo-catalog" / "images"


def _garment(
    fill: tuple[int, int, int], background: tuple[int, int, int] = (255, 255, 255)
) -> Image.Image:
    im = Image.new("RGB", (120, 160), background)
    ImageDraw.Draw(im).rectangle((25, 20, 95, 140), fill=fill)
    return im


@pytest.mark.parametrize(
    ("fill", "name"),
    [
        ((200, 20, 25), "red"),
        ((25, 35, 90), "blue"),  # navy
        ((20, 20, 20), "black"),
        ((128, 128, 128), "gray"),
        ((30, 140, 40), "green"),
        ((235, 200, 30), "yellow"),
        ((240, 240, 238), "white"),  # a white shirt on white: the whole photo counts
        ((110, 60, 25), "brown"),
        ((240, 150, 190), "pink"),
    ],
)
def test_flat_colours_on_a_studio_background(fill: tuple[int, int, int], name: str) -> None:
    assert colour_name(_garment(fill)) == name


def test_the_background_and_skin_do_not_count() -> None:
    im = _garment((200, 20, 25))
    ImageDraw.Draw(im).rectangle((40, 0, 80, 20), fill=(224, 172, 140))  # a face above it
    assert colour_name(im) == "red"
    assert colour_name(_garment((200, 20, 25), background=(252, 252, 252))) == "red"


def test_no_single_colour_gives_none() -> None:
    im = Image.new("RGB", (120, 120), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    for i, fill in enumerate([(200, 20, 25), (25, 35, 200), (30, 140, 40), (235, 200, 30)]):
        draw.rectangle((10 + 25 * i, 10, 30 + 25 * i, 110), fill=fill)
    assert colour_name(im) is None


def test_the_demo_red_jacket_is_red() -> None:
    assert colour_name(Image.open(DEMO / "wj01-red_main.jpg")) == "red"
    assert colour_name(Image.open(DEMO / "mj03-black_main.jpg")) == "black"
