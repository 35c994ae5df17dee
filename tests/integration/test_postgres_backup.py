"""Backup and restore of a PostgreSQL catalog with pg_dump / pg_restore (throwaway cluster)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from modiste.catalog.backup import create_backup, restore_backup
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.config import Settings
from modiste.errors import BackupError
from modiste.imaging.store import ImageStore
from modiste.pipeline.ingest import run_ingest

pytestmark = pytest.mark.postgres


def test_postgres_round_trip(postgres_url: str, other_postgres_url: str, tmp_path: Path) -> None:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not on PATH")
    source = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    db = Database(source)
    db.migrate()
    (tmp_path / "shop").mkdir()
    for i in range(3):
        buf = io.BytesIO()
        Image.new("RGB", (20, 30), (80 * i, 10, 10)).save(buf, format="JPEG")
        (tmp_path / "shop" / f"{i}.jpg").write_bytes(buf.getvalue())
    rows = [f"p{i},Shirt {i},{i}.jpg" for i in range(3)]
    (tmp_path / "shop" / "feed.csv").write_text("id,title,image_link\n" + "\n".join(rows) + "\n")
    import_feed(db, tmp_path / "shop" / "feed.csv", seller="shop")
    run_ingest(source, db, stages=["store"])
    with db.session() as s:
        before = catalog_status(s)
    db.dispose()

    report = create_backup(source, tmp_path / "backup")
    assert (report.database, report.images) == ("postgresql", 3)
    with pytest.raises(BackupError, match="postgresql catalog"):
        restore_backup(Settings(data_dir=tmp_path / "wrong"), tmp_path / "backup")

    target = Settings(data_dir=tmp_path / "restored", database_url=other_postgres_url)
    restore_backup(target, tmp_path / "backup")
    restored = Database(target)
    restored.ensure_ready()
    with restored.session() as s:
        after = catalog_status(s, original_exists=ImageStore(target.images_dir).exists)
    restored.dispose()
    assert after["missing_originals"]["images"] == 0
    assert {k: after[k] for k in before} == before
    with pytest.raises(BackupError, match="--force"):  # the database holds a catalog now
        restore_backup(
            Settings(data_dir=tmp_path / "elsewhere", database_url=other_postgres_url),
            tmp_path / "backup",
        )
