"""Ingest stages that fill product data from pixels and text.

- "care": wash-tag photos are read (OCR) into ``attributes["care_label"]``: fibre composition and
  care instructions. OCR is slow, so only images classified ``wash_tag`` are read.
- "categorize": products whose feed left ``product_type`` or ``gender`` empty get the text
  model's prediction with its confidence (the catalog editor lists the least confident first).
  A prediction under ``MIN_CONFIDENCE`` is kept in ``attributes["predicted"]`` but not filled in.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import ImageRow, ProductRow
from modiste.errors import ModisteError
from modiste.pipeline.stages import Outcome, StageContext, register_stage

MIN_CONFIDENCE = 0.5


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
    from modiste.cleaning.text import categorize_product, load_shipped_models

    with ctx.db.session() as session:  # type: ignore[attr-defined]
        products = session.scalars(
            select(ProductRow).where(
                or_(ProductRow.product_type.is_(None), ProductRow.gender.is_(None))
            )
        ).all()
        if not products:
            return
        cached = ctx.cache.get("text_models")
        models = cached if isinstance(cached, dict) else load_shipped_models()
        ctx.cache["text_models"] = models
        for product in products:
            wanted = {
                name: model for name, model in models.items() if getattr(product, name) is None
            }
            guess = categorize_product(product.title, product.description, wanted)
            predicted = dict((product.attributes or {}).get("predicted", {}))
            for name in wanted:
                label, confidence = guess[name], guess[f"{name}_confidence"]
                predicted[name] = {"label": label, "confidence": round(confidence, 4)}
                if label is not None and confidence >= MIN_CONFIDENCE:
                    setattr(product, name, label)
                    setattr(product, f"{name}_confidence", confidence)
            product.attributes = {**(product.attributes or {}), "predicted": predicted}


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
