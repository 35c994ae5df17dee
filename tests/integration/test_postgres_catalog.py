"""The catalog, import, ingest and status code on PostgreSQL (a throwaway cluster, see conftest)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import inspect, select

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.migrate import current_revision
from modiste.catalog.repository import (
    ProductFilter,
    catalog_status,
    get_product,
    list_products,
    product_dict,
)
from modiste.catalog.schema import ImageMatchRow
from modiste.cleaning.catalog_dedupe import DedupeReport
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

pytestmark = pytest.mark.postgres

JP = "「メンズ 長袖 シャツ」"


def _jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (30, 40), colour).save(buf, format="JPEG")
    path.write_bytes(buf.getvalue())


@pytest.fixture
def pg_db(postgres_url: str, tmp_path: Path) -> Database:
    db = Database(Settings(data_dir=tmp_path / "data", database_url=postgres_url))
    yield db  # type: ignore[misc]
    db.dispose()


def test_migrations_run_on_postgres(pg_db: Database) -> None:
    pg_db.migrate()
    assert pg_db.engine.dialect.name == "postgresql"
    head = current_revision(pg_db.engine)
    assert head is not None
    pg_db.migrate()  # idempotent
    assert current_revision(pg_db.engine) == head
    tables = set(inspect(pg_db.engine).get_table_names())
    assert {"sellers", "products", "images", "image_stages", "alembic_version"} <= tables
    pg_db.ensure_ready()


def test_import_ingest_status_on_postgres(pg_db: Database, tmp_path: Path) -> None:
    pg_db.migrate()
    _jpeg(tmp_path / "a.jpg", (200, 0, 0))
    _jpeg(tmp_path / "b.jpg", (0, 0, 200))
    (tmp_path / "bad.jpg").write_text("<html/>")
    attributes = {"sizes": ["S", "M"], "material": {"綿": 0.8, "polyester": 0.2}, "色": "紺"}
    records = [
        {"id": "1", "title": JP, "price": "1,299.00 JPY", "image_link": "a.jpg",
         "additional_image_link": "b.jpg,bad.jpg", "gender": "male", **attributes},
        {"id": "2", "title": "Linen trousers", "price": 12.5, "image_link": "b.jpg"},
        {"id": "3", "title": ""},
    ]  # fmt: skip
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    report = import_feed(pg_db, feed, seller="ショップ")
    assert (report.created, report.images_added, len(report.errors)) == (2, 4, 1)
    again = import_feed(pg_db, feed, seller="ショップ")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    summary = run_ingest(pg_db.settings, pg_db, stages=["store"])
    assert (summary.stages[0].done, summary.stages[0].failed) == (3, 1)
    with pg_db.session() as s:
        status = catalog_status(s)
        product = product_dict(get_product(s, "1", seller="ショップ"))
        found, total = list_products(s, ProductFilter(query="長袖"))
        by_price, _ = list_products(s, ProductFilter(min_price=100))
    assert status["images"] == {"total": 4, "pending": 0, "stored": 3, "failed": 1}
    assert status["failures_by_reason"] == {"not an image": 1}
    assert status["stages"] == {"store:done": 3, "store:failed": 1}
    assert product["title"] == JP and product["seller"] == "ショップ"
    assert (product["price"], product["currency"]) == (1299.0, "JPY")
    assert product["attributes"] == {**attributes, "gender_raw": "male"}  # stored as "men"
    assert [i["status"] for i in product["images"]] == ["stored", "stored", "failed"]
    assert total == 1 and found[0].external_id == "1"
    assert [p.external_id for p in by_price] == ["1"]
    # the second product shares b.jpg: stored once in the content store
    files = [p for p in pg_db.settings.images_dir.rglob("*") if p.is_file()]
    assert len(files) == 2

    # Duplicates: b.jpg is on both products, the same bytes; the pair is stored once and a
    # second run reads it back instead of verifying again.
    first = run_ingest(pg_db.settings, pg_db, stages=["dedupe"]).reports["dedupe"]
    second = run_ingest(pg_db.settings, pg_db, stages=["dedupe"]).reports["dedupe"]
    assert isinstance(first, DedupeReport) and isinstance(second, DedupeReport)
    assert (first.images, first.compared, second.compared) == (3, 3, 0)
    with pg_db.session() as s:
        pairs = [(m.exact, m.reasons) for m in s.scalars(select(ImageMatchRow))]
    assert pairs == [(True, "identical bytes (sha256)")]
    assert second.groups == first.groups and first.groups
