"""The ``embed`` ingest stage: detect garments, store crops, embed and index them for search.

Runs after ``store``. The models and the index are built once per run (setup); the index is saved
after every chunk, so a killed run never leaves the catalog saying "done" for vectors that were
not written. Images kept out of search by the cleaning policy are skipped (and removed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from modiste.pipeline.stages import Outcome, StageContext, register_stage

log = logging.getLogger(__name__)


def _setup(ctx: StageContext) -> None:
    from modiste.imaging.store import ImageStore
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.search.indexing import CatalogIndexer, open_visual_index
    from modiste.search.visual import load_detector

    embedder = create_crop_embedder(ctx.settings)
    index = open_visual_index(ctx.settings, embedder)
    store = ctx.store
    assert isinstance(store, ImageStore)  # StageContext types it loosely (no import cycle)
    detector = load_detector(ctx.settings)
    ctx.cache["embed.indexer"] = CatalogIndexer(ctx.db, store, index, embedder, detector)


def _teardown(ctx: StageContext) -> None:
    indexer = ctx.cache.pop("embed.indexer", None)
    if indexer is not None:
        indexer.index.close()  # type: ignore[attr-defined]


@register_stage(
    "embed",
    order=40,
    description="detect garments, embed crops, add them to the visual index",
    after=("store",),
    setup=_setup,
    teardown=_teardown,
)
def embed_images(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Index the chunk's images; a failure on one image does not stop the others."""
    from modiste.search.indexing import CatalogIndexer

    indexer = ctx.cache["embed.indexer"]
    assert isinstance(indexer, CatalogIndexer)
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
