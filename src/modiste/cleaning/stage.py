"""Ingest stage "dedupe": fingerprint each stored image, then regroup duplicates and offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from modiste.catalog.schema import ImageRow
from modiste.cleaning.catalog_dedupe import fingerprint_images, rebuild_groups, to_row
from modiste.config import Settings
from modiste.errors import ModisteError
from modiste.pipeline.stages import Compute, Outcome, Rows, StageContext, register_stage


def _regroup(ctx: StageContext) -> None:
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        ctx.reports["dedupe"] = rebuild_groups(session)


def _inputs(ctx: StageContext, image_ids: Sequence[int]) -> tuple[Rows, dict[int, Outcome]]:
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        found = session.execute(
            select(ImageRow.id, ImageRow.status, ImageRow.content_hash).where(
                ImageRow.id.in_(list(image_ids))
            )
        ).all()
    rows: Rows = []
    outcomes: dict[int, Outcome] = {}
    for image_id, status, content_hash in found:
        if status != "stored" or not content_hash:
            outcomes[image_id] = Outcome.failed("image not stored")  # as fingerprint_images
        else:
            rows.append({"image_id": image_id, "content_hash": content_hash})
    return rows, outcomes


def _load(settings: Settings) -> tuple[Any, int]:
    from modiste.imaging.store import open_image_store

    return open_image_store(settings), settings.max_image_pixels


def _run(loaded: tuple[Any, int], rows: Rows) -> Rows:
    """Fingerprints on a worker (the stage's compute for the Ray engine)."""
    from modiste.imaging.hashes import fingerprint_file

    store, max_pixels = loaded
    out: Rows = []
    for row in rows:
        try:
            fp = fingerprint_file(store.get(row["content_hash"]), max_pixels=max_pixels)
            out.append({"image_id": row["image_id"], "error": None, "fingerprint": fp})
        except ModisteError as e:
            out.append({"image_id": row["image_id"], "error": str(e)})
    return out


def _write(ctx: StageContext, results: Rows) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        present = set(
            session.scalars(
                select(ImageRow.id).where(ImageRow.id.in_([r["image_id"] for r in results]))
            )
        )
        for r in results:
            if r["image_id"] not in present:
                outcomes[r["image_id"]] = Outcome.skipped("image no longer in the catalog")
            elif r["error"]:
                outcomes[r["image_id"]] = Outcome.failed(r["error"])
            else:
                session.merge(to_row(r["image_id"], r["fingerprint"]))
                outcomes[r["image_id"]] = Outcome.done()
    return outcomes


@register_stage(
    "dedupe",
    order=30,
    after=("store",),
    description="fingerprints; duplicates, relistings, offer groups",
    product_level=_regroup,
    compute=Compute(_load, _inputs, _run, _write),  # type: ignore[arg-type]
)
def fingerprint_stage(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Store a fingerprint per image (the grouping itself runs once, after all chunks)."""
    with ctx.db.session() as session:  # type: ignore[attr-defined]
        errors = fingerprint_images(session, ctx.store, image_ids, ctx.settings.max_image_pixels)
    return {i: Outcome.done() if err is None else Outcome.failed(err) for i, err in errors.items()}
