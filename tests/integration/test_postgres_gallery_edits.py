"""The shot-label upserts on PostgreSQL: the model's write keeps a person's label, both upsert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.gallery_edits import save_model_shots, set_shot_label
from modiste.catalog.schema import ImageRow, ProductRow, Seller, ShotRow
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.errors import NotFoundError

pytestmark = pytest.mark.postgres
LABELS = ("near_front", "near_back", "size_chart")


@pytest.fixture
def pg_db(postgres_url: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(data_dir=tmp_path / "data", database_url=postgres_url))
    db.migrate()
    yield db
    db.dispose()


def test_model_and_person_upserts(pg_db: Database) -> None:
    with pg_db.session() as s:
        product = ProductRow(seller=Seller(name="shop"), external_id="p1", title="P")
        s.add(product)
        s.flush()
        images = [ImageRow(product_id=product.id, position=i, source=f"x{i}") for i in range(3)]
        s.add_all(images)
        s.flush()
        a, b, c = (i.id for i in images)
    with pg_db.session() as s:
        set_shot_label(s, a, "size_chart", LABELS)  # a person first: an insert
    pred = ShotPrediction("near_front", 0.8, {"near_front": 0.8})
    with pg_db.session() as s:
        labels = save_model_shots(s, {a: pred, b: pred, c: pred, 10_000: pred}, "shots:test")
    assert labels == {a: "size_chart", b: "near_front", c: "near_front"}
    with pg_db.session() as s:
        set_shot_label(s, b, "near_back", LABELS)  # a person after the model: an update
        with pytest.raises(NotFoundError):
            set_shot_label(s, 10_000, "near_back", LABELS)
    with pg_db.session() as s:
        save_model_shots(s, {b: pred}, "shots:test")
        rows = {r.image_id: (r.label, r.source) for r in s.scalars(select(ShotRow))}
    assert rows == {
        a: ("size_chart", "human"),
        b: ("near_back", "human"),
        c: ("near_front", "model"),
    }
