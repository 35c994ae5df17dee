"""Visual search: "find this garment" for a photo, and "more like this" for a product.

A photo is searched once per detected garment (the whole image when nothing is detected), each
search narrowed to crops of the same detector class when the index knows it, topped up without
the narrowing when that leaves too few. Hits are crops; results are products (best crop each).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from modiste.catalog.genders import gender_spellings
from modiste.catalog.schema import (
    DuplicateGroup,
    DuplicateMember,
    GarmentRow,
    ImageRow,
    ProductRow,
    Seller,
)
from modiste.domain import Box
from modiste.errors import ModelError, NotFoundError
from modiste.index.filters import in_category, matches, parse_filters
from modiste.search.crops import WHOLE_IMAGE, crop_garments, whole_image
from modiste.search.indexing import filter_payload

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings
    from modiste.index.base import Hit, VectorIndex
    from modiste.models.crop_embedder import CropEmbedder
    from modiste.models.detector import GarmentDetector
    from modiste.search.text import SearchFilters

log = logging.getLogger(__name__)
QUERY_MARGIN = 0.1  # same padding as indexed crops


@dataclass(frozen=True)
class ProductHit:
    """A product and the crop of it that matched best."""

    product_id: int
    score: float
    image_id: int | None = None
    garment_id: int | None = None
    label: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectResult:
    """One garment found in the query photo and the products that look like it."""

    label: str
    confidence: float
    box: Box
    hits: list[ProductHit]


def index_filters(flt: SearchFilters | None) -> dict[str, Any]:
    """The filters every index backend applies natively (category is matched afterwards)."""
    if flt is None:
        return {}
    out: dict[str, Any] = {}
    if genders := gender_spellings(flt.gender):
        out["gender"] = genders  # any spelling: "women" finds a stored "Women's" too
    if flt.seller:
        out["seller"] = flt.seller
    price = {}
    if flt.min_price is not None:
        price["gte"] = float(flt.min_price)
    if flt.max_price is not None:
        price["lte"] = float(flt.max_price)
    if price:
        out["price"] = price
    return out


def category_matches(payload: dict[str, Any], category: str | None) -> bool:
    """The product type is ``category`` or below it, segment-wise, as text search has it.

    Not a substring ("Men/Tops/Jackets" is not in "Women/Tops/Jackets"), and not the crop's
    detector class either: a filter means the same products in every search.
    """
    return in_category(str(payload.get("product_type", "")), category)


def _matches_now(
    product: dict[str, Any], label: str | None, conditions: list[Any], category: str | None
) -> bool:
    """The filters, checked as the index checks them, on the product as stored now."""
    current = {**product, "label": label or ""}
    return matches(current, conditions) and category_matches(current, category)


class SearchService:
    """Photo and product search over the visual index; models and index are injected."""

    def __init__(
        self,
        settings: Settings,
        db: Any,
        index: VectorIndex,
        embedder: CropEmbedder,
        detector: GarmentDetector | None = None,
    ) -> None:
        self.settings, self.db, self.index = settings, db, index
        self.embedder, self.detector = embedder, detector

    # -- by photo ---------------------------------------------------------------------------------

    def detect(self, image: Image.Image) -> list[Any]:
        """Garments in ``image`` (the whole-image fallback when none, or no detector)."""
        found: list[Any] = []
        if self.detector is not None and min(image.width, image.height) >= 16:
            try:
                found = self.detector.predict([image])[0]
            except ModelError as e:  # a broken detector must not take search down with it
                log.warning("detector failed, searching the whole image: %s", e)
        return found or [whole_image(image)]

    def search_image(
        self,
        image: Image.Image,
        filters: SearchFilters | None = None,
        k: int = 12,
        object_index: int | None = None,
    ) -> list[ObjectResult]:
        """Results per garment found in ``image``; ``object_index`` searches only that one."""
        image = image.convert("RGB") if image.mode != "RGB" else image
        garments = self.detect(image)
        if object_index is not None:
            if not 0 <= object_index < len(garments):
                raise NotFoundError(f"object {object_index} not found: {len(garments)} detected")
            garments = [garments[object_index]]
        crops = crop_garments(image, garments, QUERY_MARGIN, min_side=1)
        vectors = self.embedder.embed([c.image for c in crops], use="photo")
        return [
            ObjectResult(
                c.garment.label,
                c.garment.confidence,
                c.garment.box,
                self.search_vector(
                    v, filters, k, label=c.category, floor=self.settings.search_min_score_photo
                ),
            )
            for c, v in zip(crops, vectors, strict=True)
        ]

    def search_vector(
        self,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        k: int = 12,
        *,
        label: str | None = None,
        exclude: Iterable[int] = (),
        floor: float | None = None,
    ) -> list[ProductHit]:
        """Best ``k`` products for one vector; narrowed to ``label`` crops first when given.

        Hits of the pass over every crop that score under ``floor`` are left out: fewer (or no)
        hits beat k slots filled with products that look nothing like the query ("Products like
        the hat" must not start with capri pants). Crops of the garment's own class (the narrowed
        pass) stay whatever their score: the class is the stronger evidence of relevance. With
        the floor over both passes, a shopper's street photo against a packshot catalog found
        its category in 0.740 of ten slots, against 0.832 so (``benchmarks.search_e2e``).
        """
        excluded = set(exclude)
        base = index_filters(filters)
        category = filters.category if filters else None
        best: dict[int, ProductHit] = {}
        narrowed = bool(label and label != WHOLE_IMAGE)
        passes = [({**base, "label": label}, None), (base, floor)] if narrowed else [(base, floor)]
        for flt, least in passes:
            for hit in self._fetch(vector, flt, k, category, excluded):
                if least is not None and hit.score < least:
                    continue
                pid = int(hit.payload["product_id"])
                if pid not in best or hit.score > best[pid].score:
                    best[pid] = _product_hit(hit)
            if len(best) >= k:
                break
        if best:
            # The catalog has the last word: a product deleted or edited since its vectors were
            # written (payloads catch up at the next ingest) is not offered against its filters.
            # Columns, not product objects: this runs once per garment of every photo query.
            with self.db.session() as session:
                rows = session.execute(
                    select(
                        ProductRow.id,
                        ProductRow.product_type,
                        ProductRow.gender,
                        Seller.name,
                        ProductRow.price,
                    )
                    .outerjoin(Seller, Seller.id == ProductRow.seller_id)
                    .where(ProductRow.id.in_(list(best)))
                ).all()
            now = {row[0]: filter_payload(*row[1:]) for row in rows}
            conditions = parse_filters(index_filters(filters))
            category = filters.category if filters else None
            best = {
                pid: hit
                for pid, hit in best.items()
                if pid in now and _matches_now(now[pid], hit.label, conditions, category)
            }
        return _own_class_first(best.values(), label)[:k]

    def _fetch(
        self,
        vector: np.ndarray,
        flt: dict[str, Any],
        k: int,
        category: str | None,
        excluded: set[int],
    ) -> list[Hit]:
        """Hits passing the post-filters, over-fetching until ``k`` distinct products or done."""
        n = self.index.count()
        fetch = min(n, max(8 * k, 64))
        while fetch > 0:
            hits = self.index.search(vector[None, :], fetch, flt or None)[0]
            kept = [
                h
                for h in hits
                if category_matches(h.payload, category)
                and int(h.payload.get("product_id", -1)) not in excluded
            ]
            if len({h.payload["product_id"] for h in kept}) >= k or fetch >= n or len(hits) < fetch:
                return kept
            fetch = min(n, fetch * 4)
        return []

    # -- by product -------------------------------------------------------------------------------

    def similar_products(
        self, product_id: int, filters: SearchFilters | None = None, k: int = 12
    ) -> list[ProductHit]:
        """Products that look like ``product_id``, minus itself and its duplicate/offer groups."""
        with self.db.session() as session:
            rows = session.execute(
                select(GarmentRow, ImageRow.content_hash)
                .join(ImageRow, GarmentRow.image_id == ImageRow.id)
                .where(ImageRow.product_id == product_id, GarmentRow.indexed.is_(True))
            ).all()
            if not rows and session.get(ProductRow, product_id) is None:
                raise NotFoundError(f"no product {product_id}")
            excluded = self._same_group(session, product_id)
        garments = [g for g, _ in rows if g.crop_hash]
        if not garments:
            return []
        label = _dominant_label(garments)
        chosen = [g for g in garments if g.label == label]
        vectors = self._crop_vectors(chosen)
        best: dict[int, ProductHit] = {}
        for v in vectors:
            floor = self.settings.search_min_score_similar
            for hit in self.search_vector(
                v, filters, k, label=label, exclude=excluded, floor=floor
            ):
                if hit.product_id not in best or hit.score > best[hit.product_id].score:
                    best[hit.product_id] = hit
        return _own_class_first(best.values(), label)[:k]

    def _same_group(self, session: Any, product_id: int) -> set[int]:
        """The product and every product sharing a duplicate or offer group with it."""
        groups = (
            select(DuplicateMember.group_id)
            .join(DuplicateGroup)
            .where(DuplicateMember.product_id == product_id, DuplicateGroup.status != "split")
        )
        members = session.scalars(
            select(DuplicateMember.product_id).where(DuplicateMember.group_id.in_(groups))
        ).all()
        return {product_id, *(int(m) for m in members if m is not None)}

    def _crop_vectors(self, garments: Sequence[GarmentRow]) -> np.ndarray:
        """Re-embed stored crops (the index does not hand vectors back; a product has few)."""
        from modiste.imaging import decode_image
        from modiste.imaging.store import open_image_store

        store = open_image_store(self.settings)
        images = [decode_image(store.get(g.crop_hash or "")).image for g in garments]
        return self.embedder.embed(images, use="similar")


def _product_hit(hit: Hit) -> ProductHit:
    p = hit.payload
    return ProductHit(
        product_id=int(p["product_id"]),
        score=float(hit.score),
        image_id=p.get("image_id"),
        garment_id=int(hit.id),
        label=p.get("label"),
        payload=dict(p),
    )


def _own_class_first(hits: Iterable[ProductHit], label: str | None) -> list[ProductHit]:
    """The garment's own class first, best first (those are not floored), then the close
    matches of other crops: a dress scoring over a skirt does not sit between the skirts."""
    narrowed = bool(label and label != WHOLE_IMAGE)
    return sorted(hits, key=lambda h: (narrowed and h.label != label, -h.score))


def _dominant_label(garments: Sequence[GarmentRow]) -> str:
    counts: dict[str, float] = {}
    for g in garments:
        counts[g.label] = counts.get(g.label, 0.0) + 1.0 + g.confidence
    return max(counts, key=lambda lab: counts[lab])


def create_search_service(
    settings: Settings, db: Any = None, *, detector: GarmentDetector | str | None = "default"
) -> SearchService:
    """The service with the shipped embedder, the default detector (if any) and the index.

    A missing detector is not fatal: photos are then searched whole.
    """
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.search.indexing import open_visual_index

    if db is None:
        from modiste.catalog.db import Database

        db = Database(settings)
    embedder = create_crop_embedder(settings)
    det: GarmentDetector | None = None
    if detector == "default":
        det = load_detector(settings)
    elif not isinstance(detector, str):
        det = detector
    return SearchService(settings, db, open_visual_index(settings, embedder), embedder, det)


def load_detector(
    settings: Settings, threads: int | None = None, lanes: int = 1
) -> GarmentDetector | None:
    """The default garment detector, or None (with a warning) when none can be loaded;
    ``threads``: ONNX Runtime threads per call (one for each of a batch job's ``lanes``)."""
    from modiste.models.detector import create_detector

    try:
        return create_detector(settings, threads=threads, lanes=lanes)
    except ModelError as e:
        log.warning("no garment detector (%s); images are searched and indexed whole", e)
    except Exception as e:  # a broken detector install must not take search down with it
        log.error("garment detector failed to load (%r); searching whole images", e)
    return None
