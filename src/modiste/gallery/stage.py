"""Ingest stages "shots" (classify, apply the placement policy) and "order" (order galleries).

Human labels (source "human", from gallery review) are never overwritten by the model. Ordering
runs once per product after the images are classified, so its cost stays linear in images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import ImageRow, ProductRow, ShotRow
from modiste.cleaning.policy import load_policy
from modiste.errors import ModisteError
from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.regulation import resolve_regulation, saved_regulation_dirs
from modiste.imaging.decode import decode_image
from modiste.pipeline.stages import Outcome, StageContext, register_stage

log = logging.getLogger(__name__)
DRAFT = 320  # decode JPEGs at ≥ this short side: the classifier runs at 224


def _setup(ctx: StageContext) -> None:
    from modiste.gallery.classifier import create_shot_classifier

    ctx.cache["shot_classifier"] = create_shot_classifier(ctx.settings)
    ctx.cache["policy"] = load_policy(ctx.settings.cleaning_policy)


def _teardown(ctx: StageContext) -> None:
    for key in ("shot_classifier", "policy"):
        ctx.cache.pop(key, None)


@register_stage(
    "shots",
    order=20,
    after=("store",),
    description="shot type per image, placement policy",
    setup=_setup,
    teardown=_teardown,
)
def classify_shots(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Predict a shot type for each image and record where the policy places it."""
    classifier = ctx.cache["shot_classifier"]
    policy = ctx.cache["policy"]
    outcomes: dict[int, Outcome] = {}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        rows = session.scalars(
            select(ImageRow).where(ImageRow.id.in_(image_ids)).options(selectinload(ImageRow.shot))
        ).all()
        decoded: list[tuple[ImageRow, object]] = []
        for row in rows:
            if row.status != "stored" or not row.content_hash:
                outcomes[row.id] = Outcome.skipped("image not stored")
                continue
            try:
                data = ctx.store.get(row.content_hash)  # type: ignore[attr-defined]
                decoded.append((row, decode_image(data, draft_size=DRAFT, name=row.source).image))
            except ModisteError as e:
                outcomes[row.id] = Outcome.failed(str(e))
        if decoded:
            predictions = classifier.predict([im for _, im in decoded])  # type: ignore[attr-defined]
            model_name = f"shots:{ctx.settings.backbone}:{classifier.source}"  # type: ignore[attr-defined]
            for (row, _), pred in zip(decoded, predictions, strict=True):
                if row.shot is not None and row.shot.source == "human":
                    label = row.shot.label
                else:
                    if row.shot is None:
                        row.shot = ShotRow(label=pred.label, confidence=pred.confidence)
                    row.shot.label, row.shot.confidence = pred.label, float(pred.confidence)
                    row.shot.scores = {k: round(float(v), 4) for k, v in pred.scores.items()}
                    row.shot.source, row.shot.model = "model", model_name
                    label = pred.label
                place = policy.place(label)  # type: ignore[attr-defined]
                row.in_gallery, row.in_search = place.gallery, place.search
                row.policy_reason = None if place.search else place.reason
                outcomes[row.id] = Outcome.done()
    return outcomes


@register_stage(
    "order",
    order=90,
    after=("shots",),
    description="gallery order per product (last, after cleaning hid copies)",
    product_level=lambda ctx: _order_all(ctx),
)
def mark_for_ordering(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Per image there is nothing to do: ordering is per product and runs after all chunks."""
    return {i: Outcome.done() for i in image_ids}


def _order_all(ctx: StageContext) -> None:
    order_products(ctx)


def order_products(ctx: StageContext, product_ids: Sequence[int] | None = None) -> int:
    """Write gallery_rank/gallery_reason for every product (or the ones given)."""
    regulation = resolve_regulation(ctx.settings.regulation, saved_regulation_dirs(ctx.settings))
    n = 0
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        query = select(ProductRow).options(
            selectinload(ProductRow.images).selectinload(ImageRow.shot)
        )
        if product_ids is not None:
            query = query.where(ProductRow.id.in_(list(product_ids)))
        for product in session.scalars(query):
            images = [i for i in product.images if i.status == "stored"]
            if not images:
                continue
            items = [
                GalleryItem(
                    key=str(img.id),
                    label=img.shot.label if img.shot else "unknown",
                    confidence=img.shot.confidence if img.shot else 0.0,
                    position=img.position,
                )
                for img in images
                if img.in_gallery is not False
            ]
            ordered = order_gallery(items, regulation, category=product.product_type)
            by_id = {str(img.id): img for img in images}
            for img in images:
                img.gallery_rank, img.gallery_reason = None, "hidden by the cleaning policy"
            for entry in ordered.items:
                img = by_id[entry.item.key]
                img.gallery_rank, img.gallery_reason = entry.rank, entry.reason
            for ex in ordered.excluded:
                by_id[ex.item.key].gallery_reason = ex.reason
            attrs = dict(product.attributes or {})
            attrs["missing_shots"] = list(ordered.missing_reasons)
            product.attributes = attrs
            n += 1
    return n
