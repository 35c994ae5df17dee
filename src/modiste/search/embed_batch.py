"""The embed stage, batched: a chunk's photos go through the models together, then one write.

Why: the per-image path (:meth:`CatalogIndexer.index_images`, kept for ``modiste index rebuild``,
the index reconcile and the ``legacy`` engine of ``benchmarks/ingest_bench.py``) decoded, ran the
detector and embedded each photo's crops in turn, one CNN call per photo. Here the chunk is
decoded in a thread pool, photos the shot classifier calls a product alone (packshot, flat
front, back: the whole photo is the garment) skip the detector, every crop of the chunk is
embedded in batches, and the catalog and the index are written once per chunk.

The split (:func:`embed_inputs` reads, :func:`embed_run` computes on plain rows,
:func:`embed_write` writes) is what lets the Ray engine run :func:`embed_run` on workers while
the writes stay in the driver, through this same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import GarmentRow, ImageRow, ProductRow
from modiste.domain import Box, Garment
from modiste.errors import ModisteError
from modiste.models.onnx_runtime import lane_map
from modiste.pipeline.stages import Outcome, Rows, StageContext
from modiste.search.crops import WHOLE_IMAGE, crop_garments, encode_jpeg, pad_box
from modiste.search.indexing import CatalogIndexer, payload, product_class, product_garments

if TYPE_CHECKING:
    from modiste.config import Settings
    from modiste.imaging.store import ImageStore
    from modiste.models.crop_embedder import CropEmbedder
    from modiste.models.detector import GarmentDetector

log = logging.getLogger(__name__)
DRAFT = 1024  # decode JPEGs at >= this short side: the detector's input is 384 x 576
# A product-alone shot this sure skips the detector: its one garment is the whole photo. Below
# it the detector runs, as for every other photo (a wrong skip would index a model's whole body).
SINGLE_PRODUCT_MIN_CONFIDENCE = 0.9
INDEX_MARGIN = 0.1  # the embedder sees the padded crop, like a query does


@dataclass
class EmbedModels:
    """What :func:`embed_run` needs, built once per process (or Ray worker)."""

    embedder: CropEmbedder
    detector: GarmentDetector | None
    store: ImageStore
    decode_workers: int = 2
    lanes: int = 1  # photos through the detector at once, each on a one-thread session


def load_embed_models(
    settings: Settings, store: ImageStore | None = None, engine: str = "local"
) -> EmbedModels:
    """The models of ``engine`` (lanes: :func:`~modiste.models.onnx_runtime.ingest_lanes`);
    ``store``: the ingest's image store (None: the settings' own, as a Ray worker opens it)."""
    from modiste.imaging.store import open_image_store
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.models.onnx_runtime import ingest_lanes
    from modiste.search.visual import load_detector

    lanes = ingest_lanes(settings, engine)
    embedder = create_crop_embedder(settings, lanes=lanes)
    detector = load_detector(settings, threads=1 if lanes > 1 else None, lanes=lanes)
    return EmbedModels(
        embedder, detector, store if store is not None else open_image_store(settings), lanes=lanes
    )


@cache
def single_product_shots() -> frozenset[str]:
    """Shot classes that show the product alone: the taxonomy's ``garment`` group."""
    from modiste.gallery.taxonomy import load_taxonomy

    return frozenset(load_taxonomy().groups.get("garment", ()))


def embed_inputs(ctx: StageContext, image_ids: Sequence[int]) -> tuple[Rows, dict[int, Outcome]]:
    """Rows to compute, and the outcome of every image that needs no compute.

    Images kept out of search (or not stored) lose their garments and vectors here, as in the
    per-image path.
    """
    indexer = ctx.cache["embed.indexer"]
    assert isinstance(indexer, CatalogIndexer)
    rows: Rows = []
    outcomes: dict[int, Outcome] = {}
    dropped: list[str] = []
    single = single_product_shots()
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        images = session.scalars(
            select(ImageRow)
            .where(ImageRow.id.in_(list(image_ids)))
            .options(
                selectinload(ImageRow.garments),
                selectinload(ImageRow.product),
                selectinload(ImageRow.shot),
            )
        ).all()
        for image in images:
            if image.in_search is False or not image.content_hash or image.status != "stored":
                dropped += [g.crop_hash or "" for g in image.garments]
                indexer._drop(session, image, [g.id for g in image.garments])
                why = (
                    image.policy_reason or "kept out of search"
                    if image.in_search is False
                    else "image not stored"
                )
                outcomes[image.id] = Outcome.skipped(why)
                continue
            shot = image.shot
            whole = (
                shot is not None
                and shot.label in single
                and shot.confidence >= SINGLE_PRODUCT_MIN_CONFIDENCE
            )
            rows.append(
                {
                    "image_id": image.id,
                    "content_hash": image.content_hash,
                    "wanted": product_class(image.product.product_type, image.product.title),
                    "whole": whole,
                    "whole_confidence": float(shot.confidence) if whole and shot else 0.0,
                }
            )
    if dropped:  # their vectors left the index: saved now, whatever engine computes the rest
        indexer.index.save()
    indexer._remove_unnamed_crops([h for h in dropped if h])
    computed = {r["image_id"] for r in rows}
    for image_id in image_ids:
        if image_id not in outcomes and image_id not in computed:
            outcomes[image_id] = Outcome.skipped("image no longer in the catalog")
    return rows, outcomes


def _decode(models: EmbedModels, content_hash: str) -> Any:
    from modiste.imaging import decode_image

    return decode_image(models.store.get(content_hash), draft_size=DRAFT).image


def embed_run(models: EmbedModels, rows: Rows) -> Rows:
    """Garments, crop JPEGs and vectors per row; a failure is that row's ``error``."""
    results: Rows = [{"image_id": r["image_id"], "error": None, "garments": []} for r in rows]
    images: list[Any] = [None] * len(rows)

    def decode(i: int) -> None:
        try:
            images[i] = _decode(models, rows[i]["content_hash"])
        except ModisteError as e:
            results[i]["error"] = str(e)

    with ThreadPoolExecutor(max_workers=max(1, models.decode_workers)) as pool:
        list(pool.map(decode, range(len(rows))))
    found: dict[int, list[Garment]] = {}
    todo = [i for i, r in enumerate(rows) if images[i] is not None and not r["whole"]]

    def detect(i: int) -> None:
        try:  # one photo per call: batches of 384 x 576 inputs ran no faster and held 1 GB more
            found[i] = models.detector.predict([images[i]])[0]  # type: ignore[union-attr]
        except ModisteError as e:
            results[i]["error"] = str(e)

    # ``lanes`` photos at once, each on a one-thread session: 1.35x the photos per second of
    # one call at a time over both cores (docs/decisions/ingest-and-storage.md, step 5)
    lane_map(detect, todo if models.detector is not None else [], models.lanes)
    views: list[Any] = []
    owners: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        image = images[i]
        if image is None or results[i]["error"]:
            continue
        if row["whole"]:
            box = Box(0.0, 0.0, float(image.width), float(image.height))
            garments = [Garment(row["wanted"] or WHOLE_IMAGE, row["whole_confidence"], box)]
        else:
            garments = product_garments(found.get(i, []), row["wanted"], image.width, image.height)
        for c in crop_garments(image, garments, margin=0.0):
            b = pad_box(c.box, image.width, image.height, INDEX_MARGIN)
            views.append(image.crop((round(b.x1), round(b.y1), round(b.x2), round(b.y2))))
            garment = {
                "label": c.garment.label,
                "confidence": float(c.garment.confidence),
                "box": [c.box.x1, c.box.y1, c.box.x2, c.box.y2],
                "jpeg": encode_jpeg(c.image),
            }
            results[i]["garments"].append(garment)
            owners.append(garment)
    if views:
        try:
            vectors = models.embedder.embed(views)
        except ModisteError as e:
            for result in results:
                if result["garments"]:
                    result["error"], result["garments"] = str(e), []
            return results
        for garment, vector in zip(owners, vectors, strict=True):
            garment["vector"] = np.asarray(vector, dtype=np.float32)
    return results


def embed_write(ctx: StageContext, results: Rows) -> dict[int, Outcome]:
    """Garment rows, crops and vectors of computed rows, in one transaction and one index save."""
    indexer = ctx.cache["embed.indexer"]
    assert isinstance(indexer, CatalogIndexer)
    by_id = {r["image_id"]: r for r in results}
    outcomes: dict[int, Outcome] = {}
    dropped: list[str] = []
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        images = session.scalars(
            select(ImageRow)
            .where(ImageRow.id.in_(list(by_id)))
            .options(
                selectinload(ImageRow.garments),
                selectinload(ImageRow.product).selectinload(ProductRow.seller),
            )
        ).all()
        added: list[tuple[ImageRow, GarmentRow, np.ndarray]] = []
        for image in images:
            result = by_id[image.id]
            if result["error"]:
                outcomes[image.id] = Outcome.failed(result["error"])
                continue
            old = [g.id for g in image.garments]
            dropped += [g.crop_hash for g in image.garments if g.crop_hash]
            indexer._drop(session, image, old)
            if image.in_search is False or image.status != "stored":  # changed meanwhile
                outcomes[image.id] = Outcome.skipped(image.policy_reason or "kept out of search")
                continue
            for g in result["garments"]:
                x1, y1, x2, y2 = g["box"]
                row = GarmentRow(
                    image_id=image.id,
                    label=g["label"],
                    confidence=g["confidence"],
                    x1=x1,
                    y1=y1,
                    x2=x2,
                    y2=y2,
                    crop_hash=indexer.store.put(g["jpeg"]),
                    indexed=True,
                )
                session.add(row)
                added.append((image, row, g["vector"]))
            outcomes[image.id] = Outcome.done()
        session.flush()  # assigns the ids the index is keyed by
        if added:
            indexer.index.add(
                [row.id for _, row, _ in added],
                np.vstack([v for _, _, v in added]),
                [payload(image.product, image, row) for image, row, _ in added],
            )
    indexer._remove_unnamed_crops(dropped)
    indexer.index.save()
    for image_id in by_id:
        outcomes.setdefault(image_id, Outcome.skipped("image no longer in the catalog"))
    return outcomes
