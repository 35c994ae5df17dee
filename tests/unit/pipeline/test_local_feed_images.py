"""Ingest of a feed's local images: the operator sees why one failed, the API never does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline_helpers import jpeg_bytes
from sqlalchemy import select

from modiste.api.schemas import image_public
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.local_files import NOT_AVAILABLE
from modiste.catalog.schema import ImageRow
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest


def test_missing_and_swapped_files_fail_with_a_reason_kept_from_the_api(
    db: Database, settings: Settings, make_feed: Callable[..., Path], tmp_path: Path
) -> None:
    feed = make_feed(n=3)
    assert import_feed(db, feed).errors == []
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg_bytes((1, 2, 3)))
    (feed.parent / "img" / "p0-front.jpg").unlink()  # gone
    swapped = feed.parent / "img" / "p1-front.jpg"
    swapped.unlink()
    swapped.symlink_to(secret)  # a symlink put in place after the import
    (feed.parent / "img" / "p2-front.jpg").write_text("not a photo")
    run_ingest(settings, db, stages=["store"])
    with db.session() as s:
        rows = {Path(r.source).name: r for r in s.scalars(select(ImageRow))}
        public = {name: image_public(r).error for name, r in rows.items()}
    failed = {name: r.error or "" for name, r in rows.items() if r.status == "failed"}
    assert set(failed) == {"p0-front.jpg", "p1-front.jpg", "p2-front.jpg"}
    assert "file not found" in failed["p0-front.jpg"]  # for the operator
    assert "since import" in failed["p1-front.jpg"]
    assert "not an image" in failed["p2-front.jpg"]
    assert {public[name] for name in failed} == {NOT_AVAILABLE}  # the same words in the API
    assert public["p0-back.jpg"] is None
