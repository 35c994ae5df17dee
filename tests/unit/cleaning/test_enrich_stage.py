"""Ingest stages that fill product data: wash-tag reading and empty type/gender filling."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.catalog.schema import ImageRow, ProductRow, ShotRow
from modiste.cleaning.enrich_stage import read_wash_tags
from modiste.config import Settings
from modiste.domain import Box
from modiste.imaging.store import ImageStore
from modiste.models.ocr import OcrLine
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.stages import StageContext


class FakeOcr:
    """Reads a fixed label: the test is about the stage, not about OCR quality."""

    def read(self, image: Image.Image) -> list[OcrLine]:
        return [
            OcrLine("65% POLYESTER", Box(10, 10, 200, 30), 0.99),
            OcrLine("35% COTTON", Box(10, 40, 200, 60), 0.99),
            OcrLine("DO NOT BLEACH", Box(10, 70, 200, 90), 0.99),
        ]


def _catalog(tmp_path: Path, settings: Settings, rows: list[FeedRow]) -> Database:
    db = Database(settings)
    db.migrate()
    import_rows(db, rows, source="test")
    return db


def test_wash_tags_are_read_into_attributes(tmp_path: Path, settings: Settings) -> None:
    tag, front = tmp_path / "tag.png", tmp_path / "front.png"
    Image.new("RGB", (300, 120), "white").save(tag)
    Image.new("RGB", (300, 120), "navy").save(front)
    db = _catalog(
        tmp_path,
        settings,
        [FeedRow(line=2, external_id="p", title="Shirt", images=[str(front), str(tag)])],
    )
    run_ingest(settings, db, stages=["store"])
    with db.session() as session:
        images = session.scalars(select(ImageRow).order_by(ImageRow.id)).all()
        images[0].shot = ShotRow(label="near_front", confidence=0.9)
        images[1].shot = ShotRow(label="wash_tag", confidence=0.9)
        ids = [i.id for i in images]
    ctx = StageContext(settings, db, ImageStore(settings.images_dir), cache={"ocr": FakeOcr()})
    outcomes = read_wash_tags(ctx, ids)
    assert [outcomes[i].status for i in ids] == ["skipped", "done"]
    with db.session() as session:
        care = session.scalars(select(ProductRow)).one().attributes["care_label"]
    fibres = {c["fibre"]: c["percent"] for c in care["composition"]}
    assert fibres == {"polyester": 65, "cotton": 35}
    assert any("bleach" in c for c in care["care"]) and care["image_id"] == ids[1]


def test_empty_type_and_gender_are_filled_with_confidence(
    tmp_path: Path, settings: Settings
) -> None:
    img = tmp_path / "x.png"
    Image.new("RGB", (64, 64), "red").save(img)
    db = _catalog(
        tmp_path,
        settings,
        [
            FeedRow(
                line=2, external_id="a", title="Men Navy Blue Solid Polo T-shirt", images=[str(img)]
            ),
            FeedRow(
                line=3,
                external_id="b",
                title="Women Black Heels",
                product_type="Shoes",
                images=[str(img)],
            ),
        ],
    )
    run_ingest(settings, db, stages=["store", "categorize"])
    with db.session() as session:
        a, b = session.scalars(select(ProductRow).order_by(ProductRow.id)).all()
        assert a.product_type == "Tshirts" and a.gender == "Men"
        assert 0.5 <= a.product_type_confidence < 1.0
        assert a.attributes["predicted"]["product_type"]["label"] == "Tshirts"
        # A value the feed gave is never replaced; only the empty gender is filled.
        assert (b.product_type, b.product_type_confidence) == ("Shoes", 1.0)
        assert b.gender == "Women"


def test_categorize_runs_before_embed() -> None:
    """The index's payloads are written by embed: the filled type and gender must be there."""
    from modiste.pipeline.stages import get_stages

    names = [s.name for s in get_stages(None)]
    assert names.index("categorize") < names.index("embed")
