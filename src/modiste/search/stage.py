"""The ``embed`` ingest stage: detect garments, store crops, embed and index them for search.

Runs after ``store``. The models and the index are built once per run (setup); the index is saved
after every chunk, so a killed run never leaves the catalog saying "done" for vectors that were
not written. Images kept out of search by the cleaning policy are skipped (and removed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from modiste.pipeline.stages import Compute, Outcome, StageContext, register_stage
from modiste.search.embed_batch import (
    EmbedModels,
    embed_inputs,
    embed_run,
    embed_write,
    load_embed_models,
)

log = logging.getLogger(__name__)


def _setup(ctx: StageContext) -> None:
    from modiste.imaging.store import ImageStore
    from modiste.search.indexing import CatalogIndexer, open_visual_index

    store = ctx.store
    assert isinstance(store, ImageStore)  # StageContext types it loosely (no import cycle)
    models = load_embed_models(ctx.settings, store, ctx.engine)
    index = open_visual_index(ctx.settings, models.embedder)
    ctx.cache["embed.models"] = models
    ctx.cache["embed.indexer"] = CatalogIndexer(
        ctx.db, store, index, models.embedder, models.detector
    )


def _teardown(ctx: StageContext) -> None:
    ctx.cache.pop("embed.models", None)
    indexer = ctx.cache.pop("embed.indexer", None)
    if indexer is not None:
        indexer.index.close()  # type: ignore[attr-defined]


def _reconcile(ctx: StageContext) -> None:
    """Keep the index in step with the catalog after the images were indexed.

    - Cleaning can flip ``in_search`` later (a relisting found on a later import, a label
      corrected to wash_tag in review): such images leave the index; images that came back get
      indexed again.
    - Vectors whose garment is gone (image or product deleted, a rebuild or save cut short)
      are removed; garments missing from the index are indexed again.
    - A product edited since (price, gender, type filled by the categorizer or a person) gets
      its vectors' payloads rewritten, so filters see the new values.
    - An image with a box stored twice (two ingests that ran at once, before the ingest lock)
      is indexed again from its distinct boxes, which drops the copies and their vectors.
    """
    from sqlalchemy import exists, select
    from sqlalchemy.orm import selectinload

    from modiste.catalog.schema import GarmentRow, ImageRow, ProductRow, StageState
    from modiste.search.indexing import duplicated_garment_images, open_built_index, payload

    has_garments = exists().where(GarmentRow.image_id == ImageRow.id)
    # "skipped" too: an image skipped while it was kept out of search may be let back in.
    embedded = exists().where(
        StageState.image_id == ImageRow.id,
        StageState.stage == "embed",
        StageState.status.in_(("done", "skipped")),
    )
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        stale = session.scalars(
            select(ImageRow.id).where(ImageRow.in_search.is_(False), has_garments)
        ).all()
        back = session.scalars(
            select(ImageRow.id).where(
                ImageRow.in_search.is_not(False),
                ImageRow.status == "stored",
                embedded,
                ~has_garments,
            )
        ).all()
        garments = session.scalars(
            select(GarmentRow)
            .where(GarmentRow.indexed.is_(True))
            .options(
                selectinload(GarmentRow.image)
                .selectinload(ImageRow.product)
                .selectinload(ProductRow.seller)
            )
        ).all()
        expected = {g.id: (g.image_id, payload(g.image.product, g.image, g)) for g in garments}
        duplicated = duplicated_garment_images(garments)
    indexer = ctx.cache.get("embed.indexer")
    # Comparing needs the index only; the models load only when images must be (re)indexed.
    index = indexer.index if indexer is not None else open_built_index(ctx.settings)  # type: ignore[attr-defined]
    stored = dict(index.payload_items()) if index is not None else {}
    orphans = [i for i in stored if i not in expected]
    drifted = {image for gid, (image, want) in expected.items() if stored.get(gid) != want}
    drifted = (drifted | duplicated) - {*stale, *back}
    if not (stale or back or orphans or drifted):
        return
    if orphans and index is not None:
        index.remove(orphans, missing_ok=True)
        index.save()
    if stale or back or drifted:
        if indexer is None:
            _setup(ctx)  # opens the index again, as just saved
            indexer = ctx.cache["embed.indexer"]
        if stale or back:
            indexer.index_images([*stale, *back])  # type: ignore[attr-defined]
        if drifted:  # same crops, new payloads (or vectors lost from the index)
            indexer.index_images(sorted(drifted), redetect=False)  # type: ignore[attr-defined]
        indexer.index.save()  # type: ignore[attr-defined]
    log.info(
        "index reconciled: %d images removed, %d re-added, %d orphan vectors dropped, "
        "%d images refreshed",
        len(stale), len(back), len(orphans), len(drifted),
    )  # fmt: skip


@register_stage(
    "embed",
    order=40,
    description="detect garments, embed crops, add them to the visual index",
    after=("store",),
    setup=_setup,
    teardown=_teardown,
    product_level=_reconcile,
    compute=Compute(load_embed_models, embed_inputs, embed_run, embed_write),  # type: ignore[arg-type]
)
def embed_images(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Index the chunk's images; a failure on one image does not stop the others."""
    from modiste.search.indexing import CatalogIndexer

    indexer = ctx.cache["embed.indexer"]
    assert isinstance(indexer, CatalogIndexer)
    if ctx.engine != "legacy":
        rows, decided = embed_inputs(ctx, image_ids)
        if not rows:
            return decided
        # _setup's models; an indexer set up by hand (tests) runs its own models in one lane
        models = ctx.cache.get("embed.models") or EmbedModels(
            indexer.embedder, indexer.detector, indexer.store
        )
        assert isinstance(models, EmbedModels)
        return {**decided, **embed_write(ctx, embed_run(models, rows))}
    results = indexer.index_images(image_ids)
    indexer.index.save()
    outcomes: dict[int, Outcome] = {}
    for image_id in image_ids:
        result = results.get(image_id, "skipped: image no longer in the catalog")
        if result is None:
            outcomes[image_id] = Outcome.done()
        elif result.startswith("failed: "):
            outcomes[image_id] = Outcome.failed(result.removeprefix("failed: "))
        else:
            outcomes[image_id] = Outcome.skipped(result.removeprefix("skipped: "))
    return outcomes
