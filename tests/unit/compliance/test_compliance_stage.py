"""The ingest stage checks the configured profiles, stores results, and re-checks only what
changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from compliance_helpers import StubOcr, encode, photo
from sqlalchemy import select

import modiste.compliance.stage as stage
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ComplianceRow, ImageRow, ShotRow
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

PROFILE = """
name: shop
rules:
  - {id: main-fill, kind: fill, applies_to: main, min: 0.85}
  - {id: lead, kind: main_shot, allowed: [near_front]}
"""


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Database]:
    monkeypatch.setattr(stage, "default_ocr", lambda: None)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "big.png").write_bytes(encode(photo(size=(300, 300)), "PNG"))
    (feeds / "small.png").write_bytes(
        encode(photo(size=(300, 300), product=(0.4, 0.4, 0.6, 0.6)), "PNG")
    )
    (feeds / "feed.csv").write_text(
        "id,title,image_link\nA,Big,big.png\nB,Small,small.png\n", encoding="utf-8"
    )
    profile = tmp_path / "shop.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", compliance_profiles=[str(profile), "nope"])
    db = Database(settings)
    db.migrate()
    import_feed(db, feeds / "feed.csv")
    yield settings, db
    db.dispose()


def _stored(db: Database) -> dict[int, tuple[int, str]]:
    with db.session() as session:
        rows = session.scalars(select(ComplianceRow))
        return {r.product_id: (r.violations, r.state) for r in rows}


def test_ingest_stores_checks_and_redoes_only_stale_products(
    catalog: tuple[Settings, Database],
) -> None:
    settings, db = catalog
    summary = run_ingest(settings, db, stages=["store", "compliance"])
    assert summary.reports["compliance"] == {
        "shop": {"checked": 2, "failing": 2},
        "nope": {"checked": 0, "failing": 0, "error": 1},  # reported, the ingest went on
    }
    first = _stored(db)
    assert sorted(v for v, _ in first.values()) == [1, 2]  # unknown shot; + small in frame
    again = run_ingest(settings, db, stages=["store", "compliance"])
    assert again.reports["compliance"]["shop"]["checked"] == 0  # nothing changed
    with db.session() as session:  # a person labels product A's photo: its result is stale
        image = session.scalars(select(ImageRow).order_by(ImageRow.id)).first()
        assert image is not None
        session.add(ShotRow(image_id=image.id, label="near_front", confidence=1.0))
    third = run_ingest(settings, db, stages=["store", "compliance"])
    assert third.reports["compliance"]["shop"]["checked"] == 1
    after = _stored(db)
    assert after[image.product_id][0] == 0
    assert after[image.product_id][1] != first[image.product_id][1]


def test_no_profiles_configured_does_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings)
    db.migrate()
    summary = run_ingest(settings, db, stages=["compliance"])
    assert "compliance" not in summary.reports
    assert _stored(db) == {}
    db.dispose()


def test_unchanged_photos_are_not_read_again_until_the_checker_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text rule's OCR is the costly step: a stored result (gallery hashes + profile +
    checker version) spares it on every later ingest, and a new checker redoes it once."""
    import modiste.compliance.catalog as catalog_mod

    feeds = tmp_path / "feeds"
    feeds.mkdir()
    badge = photo(size=(300, 300), product=(0.3, 0.3, 0.9, 0.9), marks=[(0.02, 0.02, 0.2, 0.08)])
    (feeds / "badge.png").write_bytes(encode(badge, "PNG"))
    (feeds / "feed.csv").write_text("id,title,image_link\nA,Badge,badge.png\n", encoding="utf-8")
    profile = tmp_path / "text.yaml"
    profile.write_text(
        "name: text\nrules:\n  - {id: text, kind: text, applies_to: all}\n", encoding="utf-8"
    )
    settings = Settings(data_dir=tmp_path / "data", compliance_profiles=[str(profile)])
    db = Database(settings)
    db.migrate()
    import_feed(db, feeds / "feed.csv")
    ocr = StubOcr([("SALE", (0.02, 0.02, 0.2, 0.08))])
    monkeypatch.setattr(stage, "default_ocr", lambda: ocr)
    first = run_ingest(settings, db, stages=["store", "compliance"])
    assert first.reports["compliance"]["text"] == {"checked": 1, "failing": 1}
    assert ocr.calls == 1
    run_ingest(settings, db, stages=["store", "compliance"])
    assert ocr.calls == 1  # nothing changed: nothing read again
    monkeypatch.setattr(catalog_mod, "CHECKER_VERSION", catalog_mod.CHECKER_VERSION + 1)
    again = run_ingest(settings, db, stages=["store", "compliance"])
    assert again.reports["compliance"]["text"]["checked"] == 1 and ocr.calls == 2
    db.dispose()
