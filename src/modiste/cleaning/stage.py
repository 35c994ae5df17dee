"""Ingest stage "dedupe": fingerprint each stored image, then regroup duplicates and offers."""

from __future__ import annotations

from collections.abc import Sequence

from modiste.cleaning.catalog_dedupe import fingerprint_images, rebuild_groups
from modiste.pipeline.stages import Outcome, StageContext, register_stage


def _regroup(ctx: StageContext) -> None:
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        ctx.reports["dedupe"] = rebuild_groups(session)


@register_stage(
    "dedupe",
    order=30,
    after=("store",),
    description="fingerprints; duplicates, relistings, offer groups",
    product_level=_regroup,
)
def fingerprint_stage(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Store a fingerprint per image (the grouping itself runs once, after all chunks)."""
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        errors = fingerprint_images(session, ctx.store, image_ids, ctx.settings.max_image_pixels)
    return {i: Outcome.done() if err is None else Outcome.failed(err) for i, err in errors.items()}
