"""Ingest stages "shots" (classify, apply the placement policy) and "order" (order galleries).

Human labels (source "human", from gallery review) are never overwritten by the model. Ordering
runs once per product after the images are classified, so its cost stays linear in images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from modiste.catalog.gallery_edits import save_model_shots
from modiste.catalog.schema import ImageRow, ProductRow
from modiste.cleaning.policy import load_policy
from modiste.errors import ModisteError
from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.regulation import Regulation, resolve_regulation, saved_regulation_dirs
from modiste.imaging.decode import decode_image
from modiste.pipeline.stages import Outcome, StageContext, register_stage

log = logging.getLogger(__name__)
DRAFT = 320  # decode JPEGs at ≥ this short side: the classifier runs at 224
ORDER_ATTEMPTS = 3  # a delete during ordering costs one more pass; three in a row is not a race


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
    """Predict a shot type for each image and record where the policy places it.

    Rows are read, then written in a second transaction with an upsert that keeps a person's
    label: the API may label or delete a photo while the model runs.
    """
    classifier = ctx.cache["shot_classifier"]
    policy = ctx.cache["policy"]
    outcomes: dict[int, Outcome] = {}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        rows = session.execute(
            select(ImageRow.id, ImageRow.status, ImageRow.content_hash, ImageRow.source).where(
                ImageRow.id.in_(image_ids)
            )
        ).all()
    decoded: list[tuple[int, object]] = []
    for image_id, status, content_hash, source in rows:
        if status != "stored" or not content_hash:
            outcomes[image_id] = Outcome.skipped("image not stored")
            continue
        try:
            data = ctx.store.get(content_hash)  # type: ignore[attr-defined]
            decoded.append((image_id, decode_image(data, draft_size=DRAFT, name=source).image))
        except ModisteError as e:
            outcomes[image_id] = Outcome.failed(str(e))
    if not decoded:
        return outcomes
    predictions = classifier.predict([im for _, im in decoded])  # type: ignore[attr-defined]
    model_name = f"shots:{ctx.settings.backbone}:{classifier.source}"  # type: ignore[attr-defined]
    by_id = {image_id: pred for (image_id, _), pred in zip(decoded, predictions, strict=True)}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        labels = save_model_shots(session, by_id, model_name)
        for image_id in by_id:
            if image_id not in labels:  # deleted while the model ran
                outcomes[image_id] = Outcome.skipped("image no longer in the catalog")
                continue
            place = policy.place(labels[image_id])  # type: ignore[attr-defined]
            session.execute(
                update(ImageRow)
                .where(ImageRow.id == image_id)
                .values(
                    in_gallery=place.gallery,
                    in_search=place.search,
                    policy_reason=None if place.search else place.reason,
                )
            )
            outcomes[image_id] = Outcome.done()
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
    """Write gallery_rank/gallery_reason for every product (or the ones given).

    A product or photo deleted through the API between the read and the write fails the write
    (StaleDataError); the whole ordering is then done again over the catalog as it is now,
    instead of killing the ingest.
    """
    regulation = resolve_regulation(ctx.settings.regulation, saved_regulation_dirs(ctx.settings))
    for attempt in range(1, ORDER_ATTEMPTS + 1):
        try:
            return _order(ctx, regulation, product_ids)
        except StaleDataError:
            if attempt == ORDER_ATTEMPTS:
                raise
            log.info("the catalog changed while galleries were ordered; ordering again")
    raise AssertionError("unreachable")  # pragma: no cover


def _order(ctx: StageContext, regulation: Regulation, product_ids: Sequence[int] | None) -> int:
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
