"""Request and response bodies: one schema per direction, never a database row.

``*Create``/``*Update`` come in, ``*Public`` go out. Conversion from rows happens here, inside
the request's session, so nothing lazy-loads after the session is closed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from modiste.catalog.gallery_edits import GalleryEntry
from modiste.catalog.links import safe_http_url
from modiste.catalog.local_files import public_image_error
from modiste.catalog.schema import ImageRow, ProductRow


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN is not JSON


_Short = Field(default=None, max_length=200)


class ProductCreate(_In):
    seller: str = Field(default="default", min_length=1, max_length=200)
    external_id: str = Field(min_length=1, max_length=200)
    title: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=50_000)
    brand: str | None = _Short
    gender: str | None = Field(default=None, max_length=40)
    product_type: str | None = _Short
    price: float | None = Field(default=None, ge=0, le=1e9)
    currency: str | None = Field(default=None, max_length=8)
    link: HttpUrl | None = None
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    images: list[HttpUrl] = Field(default_factory=list, max_length=50)


class ProductUpdate(_In):
    """Only the fields sent are changed; ``null`` clears a field."""

    title: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=50_000)
    brand: str | None = _Short
    gender: str | None = Field(default=None, max_length=40)
    product_type: str | None = _Short
    price: float | None = Field(default=None, ge=0, le=1e9)
    currency: str | None = Field(default=None, max_length=8)
    link: HttpUrl | None = None
    attributes: dict[str, str | int | float | bool | None] | None = None


class ProductBulkUpdate(_In):
    """The same change for every listed product (the catalog editor's bulk edit)."""

    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=200)
    changes: ProductUpdate


class ImageHiddenIn(_In):
    hidden: bool = Field(description="true: out of the gallery, search and exports (kept).")


class ImagePublic(BaseModel):
    id: int
    position: int
    status: str
    error: str | None
    width: int | None
    height: int | None
    url: str | None
    thumb_url: str | None


class ProductPublic(BaseModel):
    id: int
    external_id: str
    seller: str
    title: str
    description: str
    brand: str | None
    gender: str | None
    gender_confidence: float | None
    product_type: str | None
    product_type_confidence: float | None
    price: float | None
    currency: str | None
    link: str | None
    attributes: dict[str, Any]
    images: list[ImagePublic]


class ProductPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ProductPublic]


def image_urls(img: ImageRow) -> tuple[str | None, str | None]:
    if img.status != "stored" or not img.content_hash:
        return None, None
    return f"/v1/images/{img.id}", f"/v1/images/{img.id}/thumb?size=256"


def image_public(img: ImageRow) -> ImagePublic:
    url, thumb = image_urls(img)
    return ImagePublic(
        id=img.id,
        position=img.position,
        status=img.status,
        error=public_image_error(img.source, img.error),  # never which host files exist
        width=img.width,
        height=img.height,
        url=url,
        thumb_url=thumb,
    )


def product_public(p: ProductRow) -> ProductPublic:
    return ProductPublic(
        id=p.id,
        external_id=p.external_id,
        seller=p.seller.name,
        title=p.title,
        description=p.description,
        brand=p.brand,
        gender=p.gender,
        gender_confidence=p.gender_confidence,
        product_type=p.product_type,
        product_type_confidence=p.product_type_confidence,
        price=p.price,
        currency=p.currency,
        link=safe_http_url(p.link),  # a javascript: link stored by an older import stays out
        attributes=p.attributes or {},
        images=[image_public(i) for i in p.images],
    )


class GalleryImagePublic(ImagePublic):
    rank: int
    label: str | None
    confidence: float | None
    label_source: str | None
    reason: str | None
    in_gallery: bool | None


def gallery_image_public(e: GalleryEntry) -> GalleryImagePublic:
    """One photo as the gallery shows it (rank counted as in ``ordered_gallery``)."""
    return GalleryImagePublic(
        **image_public(e.image).model_dump(),
        rank=e.rank,
        label=e.label,
        confidence=e.confidence,
        label_source=e.label_source,
        reason=e.reason,
        in_gallery=e.image.in_gallery,
    )


class GalleryOrderIn(_In):
    image_ids: list[int] = Field(min_length=1, max_length=500)


class ShotLabelIn(_In):
    label: str = Field(min_length=1, max_length=64)


class SortedImagePublic(BaseModel):
    key: str = Field(description="The upload's file name (not unique: see position).")
    position: int = Field(description="0-based index of the photo in the request.")
    rank: int | None
    label: str
    confidence: float
    reason: str
    excluded: bool


class GallerySortPublic(BaseModel):
    regulation: str
    category: str | None
    items: list[SortedImagePublic]
    missing: list[str]


class RegulationSummary(BaseModel):
    name: str
    description: str
    source: str | None


class RegulationPublic(RegulationSummary):
    rules: dict[str, Any]
    yaml: str


class RegulationIn(_In):
    yaml: str = Field(min_length=1, max_length=100_000, description="The regulation as YAML.")


class ProductSummary(BaseModel):
    id: int
    title: str
    seller: str
    product_type: str | None
    gender: str | None
    price: float | None
    currency: str | None
    thumb_url: str | None


def product_summary(p: ProductRow) -> ProductSummary:
    from modiste.catalog.lookups import cover_image

    cover = cover_image(p)
    return ProductSummary(
        id=p.id,
        title=p.title,
        seller=p.seller.name,
        product_type=p.product_type,
        gender=p.gender,
        price=p.price,
        currency=p.currency,
        thumb_url=image_urls(cover)[1] if cover else None,
    )


class HitPublic(BaseModel):
    product_id: int
    score: float
    image_id: int | None = None
    product: ProductSummary | None = None


class BoxPublic(BaseModel):
    x1: float
    y1: float
    x2: float
    y2: float


class ObjectResultPublic(BaseModel):
    box: BoxPublic
    label: str
    confidence: float | None = None
    hits: list[HitPublic]


class ImageSearchPublic(BaseModel):
    width: int
    height: int
    objects: list[ObjectResultPublic]


class SimilarPublic(BaseModel):
    product_id: int
    hits: list[HitPublic]


class FacetCount(BaseModel):
    value: str
    count: int


class TextSearchPublic(BaseModel):
    query: str
    expanded: list[list[str]]
    total: int
    page: int
    per_page: int
    hits: list[HitPublic]
    facets: dict[str, list[FacetCount]] = Field(
        default_factory=dict,
        description="With facets=true: all matching products counted per category, gender, seller.",
    )


class DuplicateMemberPublic(BaseModel):
    product_id: int | None
    image_id: int | None
    score: float | None
    reason: str | None
    product: ProductSummary | None = None
    image_thumb_url: str | None = None


class DuplicateGroupPublic(BaseModel):
    id: int
    kind: str
    status: Literal["open", "confirmed", "split"] | str
    members: list[DuplicateMemberPublic]


class DuplicatePage(BaseModel):
    total: int
    items: list[DuplicateGroupPublic]


class IngestJobIn(_In):
    stages: list[str] | None = Field(default=None, max_length=50)
    retry_failed: bool = False
    limit: int | None = Field(default=None, ge=1, le=1_000_000)


class StageProgressPublic(BaseModel):
    name: str
    total: int
    processed: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0


class JobPublic(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "finished", "failed"]
    started_at: str | None
    finished_at: str | None
    current_stage: str | None
    stages: list[StageProgressPublic]
    error: str | None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: str
    counts: dict[str, Any]


class ExportPublic(BaseModel):
    written: int
    folder: str
