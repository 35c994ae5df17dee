"""Garment crops: padding and clamping, whole-image fallback, storage in the content store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from modiste.domain import Box, Garment
from modiste.imaging.store import ImageStore
from modiste.search.crops import (
    WHOLE_IMAGE,
    crop_garments,
    detect_crops,
    garments_or_whole,
    pad_box,
    store_crops,
)


def test_pad_box_grows_and_clamps() -> None:
    assert pad_box(Box(10, 10, 30, 50), 100, 100, 0.1) == Box(8, 6, 32, 54)
    assert pad_box(Box(0, 5, 100, 95), 100, 100, 0.1) == Box(0, 0, 100, 100)


def test_crops_carry_categories_and_fall_back_to_the_whole_image() -> None:
    image = Image.new("RGB", (100, 200), "white")
    crops = crop_garments(image, [Garment("footwear", 0.8, Box(20, 150, 80, 190))])
    assert len(crops) == 1 and crops[0].category == "footwear"
    assert crops[0].image.size == (72, 48) and crops[0].box == Box(14, 146, 86, 194)
    (fallback,) = crop_garments(image, [])
    assert fallback.category is None and fallback.garment.label == WHOLE_IMAGE
    assert fallback.image.size == (100, 200)
    (tiny,) = crop_garments(image, [Garment("hat", 0.9, Box(1, 1, 2, 2))])
    assert tiny.garment.label == WHOLE_IMAGE
    assert garments_or_whole(image, [])[0].box == Box(0, 0, 100, 200)


class Nothing:
    classes = ("top",)

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]:
        return [[] for _ in images]


def test_detect_and_store(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 64), "red")
    (crops,) = detect_crops(Nothing(), [image])
    store = ImageStore(tmp_path / "images")
    stored = store_crops(store, crops + crops)
    assert stored[0].content_hash == stored[1].content_hash  # stored once
    assert store.exists(stored[0].content_hash) and stored[0].label == WHOLE_IMAGE
