"""Ingest stage "colour": each photo's garment colour in words, for text search.

A feed rarely says the colour ("Stellar Solar Jacket" is red only in its photos), so "red
jacket" found nothing. Every photo that may be searched gets a colour name
(:func:`modiste.models.colour_names.colour_name`), kept per image in the product's
``attributes["photo_colours"]``; the product's ``attributes["photo_colour"]`` is the most common
of them (ties: the first photo's), which text search matches colour words against beside the
title and a feed's own ``color`` / ``colour`` column. Images kept out of search (size charts,
tags) are skipped: a black label says nothing about a red jacket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from modiste.catalog.schema import ImageRow
from modiste.errors import ModisteError
from modiste.pipeline.stages import Outcome, StageContext, register_stage


def product_colour(per_image: dict[str, str | None]) -> str | None:
    """The most common named colour of a product's photos; ties go to the lowest image id."""
    named = [(int(i), c) for i, c in per_image.items() if c]
    if not named:
        return None
    counts = Counter(c for _, c in named)
    top = max(counts.values())
    return min((i, c) for i, c in named if counts[c] == top)[1]


@register_stage(
    "colour",
    order=36,
    after=("shots",),  # the placement policy has said which photos stay out of search
    description="name each photo's garment colour for text search",
)
def name_colours(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    from modiste.imaging import decode_image
    from modiste.models.colour_names import colour_name

    outcomes: dict[int, Outcome] = {}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        rows = session.scalars(
            select(ImageRow)
            .where(ImageRow.id.in_(list(image_ids)))
            .options(selectinload(ImageRow.product))
        ).all()
        for row in rows:
            if row.in_search is False or not row.content_hash:
                outcomes[row.id] = Outcome.skipped("not searched")
                continue
            try:
                data = ctx.store.get(row.content_hash)  # type: ignore[attr-defined]
                name = colour_name(decode_image(data, draft_size=256).image)
            except ModisteError as e:
                outcomes[row.id] = Outcome.failed(str(e))
                continue
            attrs = dict(row.product.attributes or {})
            per_image = {**(attrs.get("photo_colours") or {}), str(row.id): name}
            attrs["photo_colours"] = per_image
            attrs["photo_colour"] = product_colour(per_image)
            row.product.attributes = attrs
            outcomes[row.id] = Outcome.done()
    return outcomes
