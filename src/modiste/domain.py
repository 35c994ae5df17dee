"""Plain data objects shared by services. No database, torch or HTTP in here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ImageStatus(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels of the decoded (orientation-corrected) image."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(slots=True)
class ProductImage:
    id: int | None
    source: str
    position: int = 0
    content_hash: str | None = None
    status: ImageStatus = ImageStatus.PENDING
    error: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(slots=True)
class Product:
    external_id: str
    title: str = ""
    seller: str = "default"
    description: str = ""
    brand: str | None = None
    gender: str | None = None
    product_type: str | None = None
    price: float | None = None
    currency: str | None = None
    link: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    images: list[ProductImage] = field(default_factory=list)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ShotPrediction:
    """A shot type for one image. ``label`` is ``"unknown"`` below the confidence threshold."""

    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    source: str = "model"


@dataclass(frozen=True, slots=True)
class Garment:
    label: str
    confidence: float
    box: Box


@dataclass(frozen=True, slots=True)
class SearchHit:
    product_id: int
    score: float
    image_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
