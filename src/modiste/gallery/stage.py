"""Ingest stages "shots" (classify, apply the placement policy) and "order" (order galleries).

Human labels (source "human", from gallery review) are never overwritten by the model. Ordering
runs once per product after the images are classified, so its cost stays linear in images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from modiste.catalog.gallery_edits import HIDDEN_BY_HAND as HIDDEN
from modiste.catalog.gallery_edits import SET_BY_HAND, save_model_shots
from modiste.catalog.schema import ImageRow, ProductRow
from modiste.cleaning.policy import load_policy
from modiste.domain import ShotPrediction
from modiste.errors import ModisteError
from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.regulation import Regulation, resolve_regulation, saved_regulation_dirs
from modiste.imaging.decode import decode_image
from modiste.pipeline.stages import Compute, Outcome, Rows, StageContext, register_stage

if TYPE_CHECKING:
    from modiste.config import Settings
    from modiste.gallery.classifier import ShotClassifier

log = logging.getLogger(__name__)
DRAFT = 320  # decode JPEGs at ≥ this short side: the classifier runs at 224
ORDER_ATTEMPTS = 3  # a delete during ordering costs one more pass; three in a row is not a race


def _setup(ctx: StageContext) -> None:
    ctx.cache["shot_models"] = load_shot_models(ctx.settings, ctx.store, ctx.engine)
    ctx.cache["policy"] = load_policy(ctx.settings.cleaning_policy)


def _teardown(ctx: StageContext) -> None:
    for key in ("shot_models", "policy"):
        ctx.cache.pop(key, None)


def shots_inputs(ctx: StageContext, image_ids: Sequence[int]) -> tuple[Rows, dict[int, Outcome]]:
    """Stored images to classify; the others are skipped."""
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        found = session.execute(
            select(ImageRow.id, ImageRow.status, ImageRow.content_hash, ImageRow.source).where(
                ImageRow.id.in_(image_ids)
            )
        ).all()
    rows: Rows = []
    outcomes: dict[int, Outcome] = {}
    for image_id, status, content_hash, source in found:
        if status != "stored" or not content_hash:
            outcomes[image_id] = Outcome.skipped("image not stored")
        else:
            rows.append({"image_id": image_id, "content_hash": content_hash, "source": source})
    return rows, outcomes


@dataclass
class ShotModels:
    """What :func:`shots_run` needs, built once per process (or Ray worker)."""

    classifier: ShotClassifier
    store: Any  # modiste.imaging.store.ImageStore
    model_name: str
    decode_workers: int = 2


def load_shot_models(settings: Settings, store: Any = None, engine: str = "local") -> ShotModels:
    """The models of ``engine`` (lanes: :func:`~modiste.models.onnx_runtime.ingest_lanes`);
    ``store``: the ingest's image store (None: the settings' own, as a Ray worker opens it)."""
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.imaging.store import open_image_store
    from modiste.models.onnx_runtime import ingest_lanes

    classifier = create_shot_classifier(settings, lanes=ingest_lanes(settings, engine))
    name = f"shots:{settings.backbone}:{classifier.source}"
    return ShotModels(classifier, store if store is not None else open_image_store(settings), name)


def shots_run(models: ShotModels, rows: Rows) -> Rows:
    """A prediction (or the decode error) per row; the chunk is decoded in a thread pool."""
    results: Rows = [{"image_id": r["image_id"], "error": None} for r in rows]

    def decode(i: int) -> Any:
        row = rows[i]
        try:
            data = models.store.get(row["content_hash"])
            return decode_image(data, draft_size=DRAFT, name=row["source"]).image
        except ModisteError as e:
            results[i]["error"] = str(e)
            return None

    with ThreadPoolExecutor(max_workers=max(1, models.decode_workers)) as pool:
        images = list(pool.map(decode, range(len(rows))))
    ok = [i for i, im in enumerate(images) if im is not None]
    if not ok:
        return results
    predictions = models.classifier.predict([images[i] for i in ok])
    for i, pred in zip(ok, predictions, strict=True):
        results[i].update(
            label=pred.label,
            confidence=float(pred.confidence),
            scores=dict(pred.scores),
            source=pred.source,
            model=models.model_name,
        )
    return results


def shots_write(ctx: StageContext, results: Rows) -> dict[int, Outcome]:
    """Store the predictions (a person's label kept) and where the policy places each image.

    Rows were read, then are written in this second transaction with an upsert that keeps a
    person's label: the API may label or delete a photo while the model runs.
    """
    policy = ctx.cache.get("policy") or load_policy(ctx.settings.cleaning_policy)
    ctx.cache["policy"] = policy
    outcomes: dict[int, Outcome] = {}
    by_id: dict[int, ShotPrediction] = {}
    model_name = ""
    for r in results:
        if r["error"]:
            outcomes[r["image_id"]] = Outcome.failed(r["error"])
        else:
            by_id[r["image_id"]] = ShotPrediction(
                r["label"], r["confidence"], r["scores"], r["source"]
            )
            model_name = r["model"]
    if not by_id:
        return outcomes
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        labels = save_model_shots(session, by_id, model_name)
        for image_id in by_id:
            if image_id not in labels:  # deleted while the model ran
                outcomes[image_id] = Outcome.skipped("image no longer in the catalog")
                continue
            place = policy.place(labels[image_id])  # type: ignore[attr-defined]
            session.execute(
                update(ImageRow)
                # a photo a person hid stays hidden whatever its (new) label
                .where(ImageRow.id == image_id, ImageRow.policy_reason.is_distinct_from(HIDDEN))
                .values(
                    in_gallery=place.gallery,
                    in_search=place.search,
                    policy_reason=None if place.search else place.reason,
                )
            )
            outcomes[image_id] = Outcome.done()
    return outcomes


@register_stage(
    "shots",
    order=20,
    after=("store",),
    description="shot type per image, placement policy",
    setup=_setup,
    teardown=_teardown,
    compute=Compute(load_shot_models, shots_inputs, shots_run, shots_write),  # type: ignore[arg-type]
)
def classify_shots(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Predict a shot type for each image and record where the policy places it."""
    rows, outcomes = shots_inputs(ctx, image_ids)
    if rows:
        models = ctx.cache["shot_models"]
        assert isinstance(models, ShotModels)
        outcomes.update(shots_write(ctx, shots_run(models, rows)))
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
            # A person's order (gallery_edits.set_manual_order) stays; photos added since go
            # after it in the regulation's order. Only "reset to automatic order" drops it.
            hand = {str(i.id) for i in images if i.gallery_reason == SET_BY_HAND}
            last = max((by_id[k].gallery_rank or 0 for k in hand), default=0)
            for img in images:
                if str(img.id) not in hand:
                    img.gallery_rank, img.gallery_reason = None, "hidden by the cleaning policy"
            for entry in ordered.items:
                if entry.item.key in hand:
                    continue
                img = by_id[entry.item.key]
                if hand:
                    last += 1
                    img.gallery_rank = last
                    img.gallery_reason = f"added after the order set by hand; {entry.reason}"
                else:
                    img.gallery_rank, img.gallery_reason = entry.rank, entry.reason
            for ex in ordered.excluded:
                if ex.item.key not in hand:
                    by_id[ex.item.key].gallery_reason = ex.reason
            attrs = dict(product.attributes or {})
            attrs["missing_shots"] = list(ordered.missing_reasons)
            product.attributes = attrs
            n += 1
    return n
