"""Ingest stages that fill product data from pixels and text.

- "care": wash-tag photos are read (OCR and ISO 3758 pictograms) into
  ``attributes["care_label"]``: fibre composition, care instructions with their source (text,
  symbol or both), the pictogram row. OCR is slow, so only images classified ``wash_tag`` are read.
- "categorize": products whose feed left ``product_type`` or ``gender`` empty get the text
  model's prediction with its confidence (the catalog editor lists the least confident first).
  A prediction under ``MIN_CONFIDENCE`` is kept in ``attributes["predicted"]`` but not filled in.
  Models trained into ``DATA_DIR/models/text/<field>`` replace the shipped ones; one with a photo
  head (``train text --image-column``) also looks at the product's lead photo: the first stored
  one that search would use, else the first stored one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import ImageRow, ProductRow
from modiste.errors import ModisteError
from modiste.pipeline.stages import Outcome, StageContext, register_stage

if TYPE_CHECKING:
    from modiste.cleaning.text import TextCategorizer

log = logging.getLogger(__name__)
MIN_CONFIDENCE = 0.5
PHOTO_CHUNK = 128  # products whose lead photos are embedded together


@register_stage("care", order=35, after=("shots",), description="read wash tags (OCR)")
def read_wash_tags(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """OCR the images classified as wash tags; others are skipped at no cost."""
    from modiste.cleaning.care_labels import read_care_label

    outcomes: dict[int, Outcome] = {}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        rows = session.scalars(
            select(ImageRow)
            .where(ImageRow.id.in_(list(image_ids)))
            .options(selectinload(ImageRow.shot), selectinload(ImageRow.product))
        ).all()
        for row in rows:
            if row.shot is None or row.shot.label != "wash_tag" or not row.content_hash:
                outcomes[row.id] = Outcome.skipped("not a wash tag")
                continue
            if "ocr" not in ctx.cache:
                from modiste.models.ocr import OcrReader

                ctx.cache["ocr"] = OcrReader()
            try:
                data = ctx.store.get(row.content_hash)  # type: ignore[attr-defined]
                info = read_care_label(data, ocr=ctx.cache["ocr"])  # type: ignore[arg-type]
            except ModisteError as e:
                outcomes[row.id] = Outcome.failed(str(e))
                continue
            if not info.empty:
                attrs = dict(row.product.attributes or {})
                attrs["care_label"] = {**info.to_dict(), "image_id": row.id}
                row.product.attributes = attrs
            outcomes[row.id] = Outcome.done()
    return outcomes


def _fill_missing(ctx: StageContext) -> None:
    from modiste.cleaning.text import categorize_product, load_text_models

    with ctx.db.session() as session:  # type: ignore[attr-defined]
        products = session.scalars(
            select(ProductRow)
            .where(or_(ProductRow.product_type.is_(None), ProductRow.gender.is_(None)))
            .options(selectinload(ProductRow.images))
        ).all()
        if not products:
            return
        cached = ctx.cache.get("text_models")
        models = cached if isinstance(cached, dict) else load_text_models(ctx.settings.model_dir)
        ctx.cache["text_models"] = models
        for start in range(0, len(products), PHOTO_CHUNK):
            part = products[start : start + PHOTO_CHUNK]
            wanted = [
                {name: m for name, m in models.items() if getattr(product, name) is None}
                for product in part
            ]
            lead, feats = _lead_photos(ctx, part, wanted)
            for j, product in enumerate(part):
                photo = None if feats is None else feats[j]
                guess = categorize_product(product.title, product.description, wanted[j], photo)
                predicted = dict((product.attributes or {}).get("predicted", {}))
                for name, model in wanted[j].items():
                    label, confidence = guess[name], guess[f"{name}_confidence"]
                    predicted[name] = {"label": label, "confidence": round(confidence, 4)}
                    if model.photo is not None and lead[j] is not None:
                        predicted[name]["photo_image_id"] = lead[j]
                    if label is not None and confidence >= MIN_CONFIDENCE:
                        setattr(product, name, label)
                        setattr(product, f"{name}_confidence", confidence)
                product.attributes = {**(product.attributes or {}), "predicted": predicted}


def _lead_image(product: ProductRow) -> ImageRow | None:
    """The photo a shopper sees first: stored, not kept out of search (tags, charts), first."""
    stored = [i for i in product.images if i.status == "stored" and i.content_hash]
    shown = [i for i in stored if i.in_search is not False] or stored
    if not shown:
        return None
    return min(shown, key=lambda i: (i.gallery_rank is None, i.gallery_rank or 0, i.position))


def _lead_photos(
    ctx: StageContext,
    products: Sequence[ProductRow],
    wanted: Sequence[dict[str, TextCategorizer]],
) -> tuple[list[int | None], np.ndarray | None]:
    """(lead image id or None, features with NaN rows) for products a photo model will fill.

    A photo that cannot be read is logged and left out: that product is categorized by text.
    """
    from modiste.cleaning.photo_features import embed_photos, photo_embedder

    heads = [m.photo for w in wanted for m in w.values() if m.photo is not None]
    lead: list[int | None] = [None] * len(products)
    if not heads:
        return lead, None
    sources: list[bytes | None] = [None] * len(products)
    for j, product in enumerate(products):
        image = _lead_image(product) if any(m.photo for m in wanted[j].values()) else None
        if image is None:
            continue
        try:
            sources[j] = ctx.store.get(image.content_hash)  # type: ignore[attr-defined]
        except (ModisteError, OSError) as e:
            log.warning("product %s: lead photo unavailable, text only: %s", product.id, e)
            continue
        lead[j] = image.id
    if not any(s is not None for s in sources):
        return lead, None
    embedder = ctx.cache.get("text_photo_embedder")
    if embedder is None:
        embedder = photo_embedder(heads[0].spec, ctx.settings)
        ctx.cache["text_photo_embedder"] = embedder
    feats, errors = embed_photos(sources, embedder)  # type: ignore[arg-type]
    for j, reason in errors:
        log.warning("product %s: lead photo unusable, text only: %s", products[j].id, reason)
        lead[j] = None
    return lead, feats


@register_stage(
    "categorize",
    order=38,  # before embed: the vectors' payloads carry the filled type and gender
    after=("store",),
    description="fill empty product type / gender from the text",
    product_level=_fill_missing,
)
def mark_categorized(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Nothing per image: categorizing is per product and runs once after the chunks."""
    return {i: Outcome.done() for i in image_ids}
