"""Garment crops for visual search: padded, clamped, categorised, and stored by content hash.

A crop keeps a margin around its box (10% by default) because detector boxes are tight and a
little context (collar, hem) helps retrieval. When the detector finds nothing, the whole image is
the one crop, so search never returns nothing just because detection missed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modiste.domain import Box, Garment

if TYPE_CHECKING:
    from PIL import Image

    from modiste.imaging.store import ImageStore
    from modiste.models.detector import GarmentDetector

WHOLE_IMAGE = "whole_image"  # label of the fallback crop: no category to narrow search by


@dataclass(frozen=True, slots=True)
class Crop:
    """One garment crop; ``box`` is the padded box in the source image's pixels."""

    garment: Garment
    box: Box
    image: Image.Image

    @property
    def category(self) -> str | None:
        """The category to narrow search to, or None for the whole-image fallback."""
        return None if self.garment.label == WHOLE_IMAGE else self.garment.label


@dataclass(frozen=True, slots=True)
class StoredCrop:
    content_hash: str
    label: str
    confidence: float
    box: Box


def pad_box(box: Box, width: int, height: int, margin: float = 0.1) -> Box:
    """Grow ``box`` by ``margin`` of its width/height on each side, clamped to the image."""
    dx, dy = box.width * margin, box.height * margin
    return Box(
        max(0.0, box.x1 - dx),
        max(0.0, box.y1 - dy),
        min(float(width), box.x2 + dx),
        min(float(height), box.y2 + dy),
    )


def whole_image(image: Image.Image) -> Garment:
    """The fallback garment covering the whole image."""
    return Garment(WHOLE_IMAGE, 0.0, Box(0.0, 0.0, float(image.width), float(image.height)))


def garments_or_whole(image: Image.Image, garments: Sequence[Garment]) -> list[Garment]:
    """``garments``, or the whole image when there are none."""
    return list(garments) if garments else [whole_image(image)]


def crop_garments(
    image: Image.Image,
    garments: Sequence[Garment],
    margin: float = 0.1,
    min_side: int = 8,
) -> list[Crop]:
    """Padded crops of ``garments`` (whole image when none, or when all are degenerate)."""
    crops = []
    for g in garments:
        box = pad_box(g.box, image.width, image.height, margin)
        if box.width < min_side or box.height < min_side:
            continue
        rounded = (round(box.x1), round(box.y1), round(box.x2), round(box.y2))
        crops.append(Crop(g, box, image.crop(rounded)))
    if not crops:
        g = whole_image(image)
        crops.append(Crop(g, g.box, image.copy()))
    return crops


def detect_crops(
    detector: GarmentDetector, images: Sequence[Image.Image], margin: float = 0.1
) -> list[list[Crop]]:
    """Detect, then crop each image (whole-image fallback when nothing is found)."""
    return [
        crop_garments(im, found, margin)
        for im, found in zip(images, detector.predict(images), strict=True)
    ]


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB crop (what the content store keeps)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def store_crops(store: ImageStore, crops: Sequence[Crop], quality: int = 90) -> list[StoredCrop]:
    """Put each crop's JPEG into the content store; identical crops are stored once."""
    return [
        StoredCrop(
            store.put(encode_jpeg(c.image, quality)), c.garment.label, c.garment.confidence, c.box
        )
        for c in crops
    ]
