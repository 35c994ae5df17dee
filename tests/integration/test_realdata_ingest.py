"""The Magento Luma galleries imported and ingested as a catalog (real photos, read in place)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.gallery_feed import gallery_to_feed
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.catalog.schema import ImageRow
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest


@pytest.mark.realdata
def test_magento_gallery_as_a_catalog(datasets_dir: Path, tmp_path: Path) -> None:
    feed = tmp_path / "luma-feed.csv"
    assert gallery_to_feed(datasets_dir / "magento_luma" / "gallery.csv", feed) == 215
    # the feed is written outside the data set: its photos' folder is named as a root
    settings = Settings(data_dir=tmp_path / "data", feed_file_roots=[datasets_dir])
    db = Database(settings)
    db.migrate()
    report = import_feed(db, feed, seller="luma")
    assert (report.created, report.images_added, report.errors) == (215, 342, [])
    summary = run_ingest(settings, db, stages=["store"])
    stage = summary.stages[0]
    assert stage.done + stage.failed == 342
    with db.session() as s:
        status = catalog_status(s)
        failed = s.scalars(select(ImageRow).where(ImageRow.status == "failed")).all()
        sizes = s.execute(
            select(ImageRow.width, ImageRow.height).where(ImageRow.status == "stored")
        )
        longest = {max(w, h) for w, h in sizes}
    assert status["products"] == 215
    assert status["images"]["total"] == 342 and status["images"]["pending"] == 0
    assert status["images"]["stored"] + status["images"]["failed"] == 342
    assert all(img.error for img in failed)  # every failure says why
    assert status["images"]["stored"] == 342, status["failures_by_reason"]
    assert longest == {512}  # the data set's photos are 512 px on the long side
    db.dispose()
