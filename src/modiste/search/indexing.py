"""Catalog images → garment crops → vectors in the visual index (used by ingest and rebuild).

One index entry per garment crop, keyed by its ``garments.id`` row, so a hit leads back to the
crop, its image and its product. The payload carries what search filters on (label, product
type, gender, price, seller). Images the cleaning policy keeps out of search
(``in_search is False``) are removed; ``None`` (policy not run) counts as "index it".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import GarmentRow, ImageRow, ProductRow
from modiste.domain import Box, Garment
from modiste.errors import ModisteError, VectorIndexError
from modiste.search.crops import WHOLE_IMAGE, crop_garments

if TYPE_CHECKING:
    from modiste.config import Settings
    from modiste.imaging.store import ImageStore
    from modiste.index.base import VectorIndex
    from modiste.models.crop_embedder import CropEmbedder
    from modiste.models.detector import GarmentDetector

log = logging.getLogger(__name__)
BACKEND = "faiss"

# Product-type words → detector classes, to keep the crop that is the product (a model's jeans in
# a T-shirt photo are someone else's product). The classes are the detector's as it was trained
# (``evaluation.detection.LABEL_MAP``): hoodies, sweatshirts and vests are tops, cardigans and
# capes outerwear; a hoodie product filed under outerwear never matched its detected 'top'.
_TYPE_WORDS = {
    "top": (
        r"t-?shirt|tee|shirt|top|tank|bra|blouse|polo|sweater|jumper|pullover|longsleeve|body"
        r"|hoodie|vest|kurta|kurti|tunic"
    ),
    "outerwear": r"jacket|coat|blazer|outerwear|parka|cardigan|anorak|cape|shrug",
    "bottom": r"pant|trouser|jean|short|skirt|legging|bottom|capri|jogger",
    "dress": r"dress|gown|jumpsuit",
    "footwear": r"shoe|sneaker|boot|sandal|footwear|heel|trainer",
    "bag": r"\bbags?\b|backpack|tote|handbag",
}


def product_class(product_type: str | None, title: str | None = None) -> str | None:
    """The detector class a product is, from its type (then title) words; None if unclear."""
    for text in (product_type or "", title or ""):
        low = text.lower()
        for cls in ("dress", "outerwear", "footwear", "bag", "bottom", "top"):
            if re.search(_TYPE_WORDS[cls], low):
                return cls
    return None


def product_garments(
    found: Sequence[Garment], wanted: str | None, width: float, height: float
) -> list[Garment]:
    """The garments of a catalog photo to index for its product of class ``wanted``.

    The detections of the product's class; when there are none, the whole photo under that
    class (a packshot the street-trained detector misses, or a model shot where it found only
    the shoes: the shoes are not the product, and a search narrowed to footwear must not offer
    the shirt). With no class known, every detection; none at all: the whole-photo fallback.
    """
    matching = [g for g in found if g.label == wanted]
    if wanted and not matching:
        return [Garment(wanted, 0.0, Box(0.0, 0.0, float(width), float(height)))]
    return matching or list(found)


def index_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "index" / "visual"


def _remote(settings: Settings) -> dict[str, Any] | None:
    """Keyword arguments for a Qdrant server index when MODISTE_VECTOR_INDEX_URL names one."""
    if not settings.vector_index_url:
        return None
    return {
        "url": settings.vector_index_url,
        "api_key": settings.qdrant_api_key,
        "collection": settings.qdrant_collection,
        "shard_number": settings.qdrant_shards,
        "replication_factor": settings.qdrant_replication_factor,
    }


def _space_file(settings: Settings) -> Path:
    return settings.resolved_data_dir / "index" / "visual.json"


def _built_space(settings: Settings) -> dict[str, Any] | None:
    """What ``visual.json`` says the index was built with (None: no index built yet)."""
    space = _space_file(settings)
    if not space.is_file():
        return None
    try:
        built = json.loads(space.read_text())
    except (OSError, ValueError) as e:
        built = e
    if not isinstance(built, dict):
        raise VectorIndexError(f"unreadable {space} ({built}); run `modiste index rebuild`")
    return built


def open_visual_index(
    settings: Settings, embedder: CropEmbedder, *, fresh: bool = False
) -> VectorIndex:
    """The catalog's index, checked to hold vectors of ``embedder``'s space.

    Raises:
        VectorIndexError: The index was built with another embedder (run `modiste index rebuild`).
    """
    from modiste.imaging.store import atomic_write
    from modiste.index import create_index

    built = None if fresh else _built_space(settings)
    if built is not None and built.get("space") != embedder.name:
        raise VectorIndexError(
            "the visual index was built with another embedder; run `modiste index rebuild`"
        )
    remote = _remote(settings)
    path = index_dir(settings)
    if remote is not None:  # a Qdrant server: shared by every replica, nothing on this disk
        index = create_index("qdrant", embedder.dim, None, **remote)
        if fresh:
            index.recreate()  # type: ignore[attr-defined]
    else:
        if fresh and path.exists():
            import shutil

            shutil.rmtree(path)
        index = create_index(BACKEND, embedder.dim, path)
    mine = {"space": embedder.name, "dim": embedder.dim}
    if fresh or built != mine:
        # Written only when it changes, and atomically: searches open the index concurrently.
        atomic_write(_space_file(settings), (json.dumps(mine) + "\n").encode())
    return index


def open_built_index(settings: Settings) -> VectorIndex | None:
    """The index as built, without loading any model (None when none was built yet)."""
    from modiste.index import create_index

    remote = _remote(settings)
    if remote is not None:  # this host may never have built it: ask the server
        from modiste.index.qdrant_index import remote_dim

        dim = remote_dim(remote["url"], remote["collection"], remote["api_key"])
        return None if dim is None else create_index("qdrant", dim, None, **remote)
    built = _built_space(settings)
    if built is None:
        return None
    if not isinstance(built.get("dim"), int):
        raise VectorIndexError(
            f"{_space_file(settings)} gives no dimension; run `modiste index rebuild`"
        )
    return create_index(BACKEND, built["dim"], index_dir(settings))


def product_payload(product: ProductRow) -> dict[str, Any]:
    """The product's fields that search filters on, as the index stores them."""
    seller = product.seller.name if product.seller else None
    return filter_payload(product.product_type, product.gender, seller, product.price)


def filter_payload(
    product_type: str | None, gender: str | None, seller: str | None, price: float | None
) -> dict[str, Any]:
    """:func:`product_payload` from the columns alone (search re-checks hits without loading
    whole product rows)."""
    out: dict[str, Any] = {
        "product_type": (product_type or "").lower(),
        "gender": (gender or "").lower(),
        "seller": seller or "",
    }
    if price is not None:
        out["price"] = float(price)
    return out


def payload(product: ProductRow, image: ImageRow, garment: GarmentRow) -> dict[str, Any]:
    return {
        "product_id": product.id,
        "image_id": image.id,
        "label": garment.label,
        **product_payload(product),
    }


class CatalogIndexer:
    """Detect, crop, store crops, embed and index catalog images; idempotent per image."""

    def __init__(
        self,
        db: Any,
        store: ImageStore,
        index: VectorIndex,
        embedder: CropEmbedder,
        detector: GarmentDetector | None = None,
    ) -> None:
        self.db, self.store, self.index = db, store, index
        self.embedder, self.detector = embedder, detector

    def index_images(
        self, image_ids: Sequence[int], *, redetect: bool = True
    ) -> dict[int, str | None]:
        """Index each image; returns image id → None (indexed), "skipped: why" or "failed: why"."""
        from modiste.imaging import decode_image

        out: dict[int, str | None] = {}
        dropped: list[str] = []  # crops of garments replaced or removed here
        with self.db.session() as session:
            rows = session.scalars(
                select(ImageRow)
                .where(ImageRow.id.in_(list(image_ids)))
                .options(
                    selectinload(ImageRow.garments),
                    selectinload(ImageRow.product).selectinload(ProductRow.seller),
                )
            ).all()
            for row in rows:
                old = [g.id for g in row.garments]
                dropped += [g.crop_hash for g in row.garments if g.crop_hash]
                if row.in_search is False or not row.content_hash or row.status != "stored":
                    self._drop(session, row, old)
                    out[row.id] = "skipped: " + (
                        row.policy_reason or "kept out of search"
                        if row.in_search is False
                        else "image not stored"
                    )
                    continue
                try:
                    image = decode_image(self.store.get(row.content_hash), draft_size=1024).image
                    self._index_one(session, row, image, old, redetect)
                    out[row.id] = None
                except ModisteError as e:
                    out[row.id] = f"failed: {e}"
        # Only once the rows that named them are gone for good (committed): a crop file no
        # garment names any more would otherwise stay in the store for ever.
        self._remove_unnamed_crops(dropped)
        return out

    def _remove_unnamed_crops(self, hashes: Sequence[str]) -> None:
        if not hashes:
            return
        with self.db.session() as session:
            named = set(
                session.scalars(
                    select(GarmentRow.crop_hash).where(GarmentRow.crop_hash.in_(hashes))
                )
            )
            named.update(
                session.scalars(
                    select(ImageRow.content_hash).where(ImageRow.content_hash.in_(hashes))
                )
            )
        for content_hash in set(hashes) - named:
            self.store.delete(content_hash)

    def _drop(self, session: Any, row: ImageRow, old: list[int]) -> None:
        if old:
            self.index.remove(old, missing_ok=True)
            session.execute(delete(GarmentRow).where(GarmentRow.id.in_(old)))
            row.garments.clear()

    def _index_one(
        self, session: Any, row: ImageRow, image: Any, old: list[int], redetect: bool
    ) -> None:
        from modiste.search.crops import encode_jpeg

        if not redetect and row.garments:
            # A box stored twice (two ingests that ran at once, before the ingest lock) is
            # indexed once.
            unique = {
                (g.label, g.x1, g.y1, g.x2, g.y2): g for g in row.garments if g.label != WHOLE_IMAGE
            }
            found = [
                Garment(g.label, g.confidence, Box(g.x1, g.y1, g.x2, g.y2)) for g in unique.values()
            ]
        else:
            found = self.detector.predict([image])[0] if self.detector is not None else []
        wanted = product_class(row.product.product_type, row.product.title)
        crops = crop_garments(
            image, product_garments(found, wanted, image.width, image.height), margin=0.0
        )
        self._drop(session, row, old)
        garments = []
        for c in crops:
            g = GarmentRow(
                image_id=row.id,
                label=c.garment.label,
                confidence=c.garment.confidence,
                x1=c.box.x1,
                y1=c.box.y1,
                x2=c.box.x2,
                y2=c.box.y2,
                crop_hash=self.store.put(encode_jpeg(c.image)),
                indexed=True,
            )
            session.add(g)
            garments.append(g)
        session.flush()  # assigns the ids the index is keyed by
        from modiste.search.crops import pad_box

        views = []
        for c in crops:  # the embedder sees the padded crop, like a query does
            b = pad_box(c.box, image.width, image.height, 0.1)
            views.append(image.crop((round(b.x1), round(b.y1), round(b.x2), round(b.y2))))
        vectors = self.embedder.embed(views)
        self.index.add(
            [g.id for g in garments], vectors, [payload(row.product, row, g) for g in garments]
        )


def duplicated_garment_images(garments: Sequence[GarmentRow]) -> set[int]:
    """Images with the same box stored twice (two ingests that ran at once, before the lock)."""
    seen: set[tuple[object, ...]] = set()
    out: set[int] = set()
    for g in garments:
        key = (g.image_id, g.label, g.x1, g.y1, g.x2, g.y2)
        if key in seen:
            out.add(g.image_id)
        seen.add(key)
    return out


def eligible_image_ids(db: Any) -> list[int]:
    """Stored images the cleaning policy has not kept out of search."""
    with db.session() as session:
        return list(
            session.scalars(
                select(ImageRow.id)
                .where(ImageRow.status == "stored", ImageRow.in_search.is_not(False))
                .order_by(ImageRow.id)
            )
        )


def rebuild_index(
    settings: Settings,
    db: Any,
    embedder: CropEmbedder | None = None,
    detector: GarmentDetector | None = None,
    *,
    redetect: bool = False,
    advance: Callable[[int], None] | None = None,
    chunk: int = 32,
) -> dict[str, int]:
    """Build the visual index from the catalog from scratch.

    Garment boxes already in the catalog are reused unless ``redetect``; images without boxes go
    through the detector (when one is given) or are indexed whole. Holds the ingest lock: an
    ingest writing the index meanwhile would lose its vectors or ours.
    """
    from modiste.pipeline.leftovers import remove_unreferenced_files, sweep_leftovers
    from modiste.pipeline.lock import ingest_lock

    with ingest_lock(settings) as held:
        sweep_leftovers(settings, deep=not held.previous_finished)
        if not held.previous_finished:
            remove_unreferenced_files(settings, db)
        return _rebuild(settings, db, embedder, detector, redetect, advance, chunk)


def _rebuild(
    settings: Settings,
    db: Any,
    embedder: CropEmbedder | None,
    detector: GarmentDetector | None,
    redetect: bool,
    advance: Callable[[int], None] | None,
    chunk: int,
) -> dict[str, int]:
    from modiste.imaging.store import open_image_store
    from modiste.models.crop_embedder import create_crop_embedder

    embedder = embedder or create_crop_embedder(settings)
    index = open_visual_index(settings, embedder, fresh=True)
    indexer = CatalogIndexer(db, open_image_store(settings), index, embedder, detector)
    ids = eligible_image_ids(db)
    counts = {"images": 0, "failed": 0, "skipped": 0}
    for i in range(0, len(ids), chunk):
        for result in indexer.index_images(ids[i : i + chunk], redetect=redetect).values():
            key = "images" if result is None else result.split(":", 1)[0]
            counts[key] = counts.get(key, 0) + 1
        if advance:
            advance(len(ids[i : i + chunk]))
    index.save()
    counts["vectors"] = index.count()
    return counts
