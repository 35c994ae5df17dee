"""The first stage: fetch each image, decode it safely, keep it in the content store."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from modiste.catalog.schema import ImageRow
from modiste.errors import ModisteError
from modiste.imaging.decode import configure_decode_budget, decode_image
from modiste.pipeline.fetch import ImageFetcher
from modiste.pipeline.originals import forget_outcomes_of_changed, requeue_missing_originals
from modiste.pipeline.stages import Outcome, StageContext, register_stage


def _setup(ctx: StageContext) -> None:
    ctx.cache["fetcher"] = ImageFetcher(ctx.settings)
    # The fetch workers decode in parallel; big images take turns within this many pixels.
    configure_decode_budget(ctx.settings.decode_budget_pixels)


def _teardown(ctx: StageContext) -> None:
    fetcher = ctx.cache.pop("fetcher", None)
    if isinstance(fetcher, ImageFetcher):
        fetcher.close()


# content hash, width, height, format, size in bytes
Intake = tuple[str, int, int, str, int]


def _intake(ctx: StageContext, source: str) -> Intake:
    """Fetch, validate and keep one original. It is stored here, in the fetch worker, so that a
    chunk never holds every original's bytes at once (32 x 25 MB)."""
    fetcher = ctx.cache["fetcher"]
    assert isinstance(fetcher, ImageFetcher)
    data = fetcher.fetch(source)
    decoded = decode_image(
        data, max_pixels=ctx.settings.max_image_pixels, draft_size=64, name=source
    )
    content_hash = ctx.store.put(data)  # type: ignore[attr-defined]
    return content_hash, decoded.width, decoded.height, decoded.format, len(data)


@register_stage(
    "store",
    order=10,
    description="fetch, decode/validate, store content-addressed",
    setup=_setup,
    teardown=_teardown,
    prepare=requeue_missing_originals,  # stored rows whose file is gone are fetched again
    product_level=forget_outcomes_of_changed,
)
def store_images(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Fetch, validate and store images; failures are recorded on the image with the reason."""
    db = ctx.db
    with db.session() as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(ImageRow).where(ImageRow.id.in_(image_ids))).all()
        sources = {row.id: row.source for row in rows}

    results: dict[int, Intake | ModisteError] = {}

    def work(item: tuple[int, str]) -> tuple[int, Intake | ModisteError]:
        image_id, source = item
        try:
            return image_id, _intake(ctx, source)
        except ModisteError as e:
            return image_id, e
        except Exception as e:
            return image_id, ModisteError(f"{source}: unexpected {type(e).__name__}: {e}")

    workers = max(1, min(ctx.settings.fetch_workers, len(sources)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = dict(pool.map(work, sources.items()))

    outcomes: dict[int, Outcome] = {}
    with db.session() as session:  # type: ignore[attr-defined]
        for row in session.scalars(select(ImageRow).where(ImageRow.id.in_(list(results)))):
            result = results[row.id]
            if isinstance(result, ModisteError):
                row.status, row.error = "failed", str(result)
                outcomes[row.id] = Outcome.failed(str(result))
                continue
            row.content_hash, row.width, row.height, row.format, row.bytes = result
            row.status, row.error = "stored", None
            outcomes[row.id] = Outcome.done()
    for image_id in image_ids:
        outcomes.setdefault(image_id, Outcome.skipped("image no longer in the catalog"))
    return outcomes
