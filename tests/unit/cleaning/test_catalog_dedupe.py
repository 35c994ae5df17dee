"""Catalog duplicates: copies hidden, relistings flagged, shared photos kept, offers grouped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.catalog.schema import DuplicateGroup, ImageMatchRow, ImageRow, ProductRow
from modiste.cleaning.catalog_dedupe import DedupeReport, forget_matches, to_row
from modiste.config import Settings
from modiste.imaging.hashes import fingerprint_file
from modiste.pipeline.ingest import run_ingest


def photo(path: Path, seed: int, *, scale: float = 1.0, quality: int = 92) -> str:
    """A blocky, colourful picture on white; each seed is a different picture; ``scale`` and
    ``quality`` make an altered copy of it (resized, recompressed)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, size=(6, 5, 3), dtype=np.uint8)
    body = np.kron(blocks, np.ones((30, 30, 1), dtype=np.uint8))
    canvas = np.full((240, 200, 3), 255, dtype=np.uint8)
    canvas[30:210, 25:175] = body
    im = Image.fromarray(canvas)
    if scale != 1.0:
        im = im.resize((int(200 * scale), int(240 * scale)), Image.Resampling.LANCZOS)
    im.save(path, quality=quality)
    return str(path)


@pytest.fixture
def db(settings: Settings) -> Database:
    database = Database(settings)
    database.migrate()
    return database


def ingest(settings: Settings, db: Database, rows: list[FeedRow]) -> None:
    import_rows(db, rows, source="test")
    run_ingest(settings, db, stages=["store", "dedupe"])


def one_coat_at_two_shops(tmp_path: Path, settings: Settings, db: Database) -> None:
    """Two photos of a coat at shop-a; resized, recompressed copies of them at shop-b."""
    imgs = [photo(tmp_path / f"{i}.jpg", i) for i in (3, 4)]
    copies = [photo(tmp_path / f"{i}_shop.jpg", i, scale=0.8, quality=85) for i in (3, 4)]
    rows = [
        FeedRow(line=2, external_id="a", title="Coat", seller="shop-a", price=120, images=imgs),
        FeedRow(line=3, external_id="b", title="Coat", seller="shop-b", price=89, images=copies),
    ]
    ingest(settings, db, rows)


def groups(db: Database) -> list[tuple[str, list[tuple[int | None, int | None]]]]:
    with db.session() as session:
        out = []
        for g in session.scalars(select(DuplicateGroup).order_by(DuplicateGroup.id)):
            out.append((g.kind, sorted((m.product_id, m.image_id) for m in g.members)))
        return out


def flags(db: Database) -> dict[str, list[tuple[bool | None, bool | None, str | None]]]:
    with db.session() as session:
        out: dict[str, list[tuple[bool | None, bool | None, str | None]]] = {}
        for p in session.scalars(select(ProductRow).order_by(ProductRow.id)):
            out[p.external_id] = [(i.in_gallery, i.in_search, i.policy_reason) for i in p.images]
        return out


def test_copy_inside_a_product_is_hidden(tmp_path: Path, settings: Settings, db: Database) -> None:
    a = photo(tmp_path / "a.jpg", 1)
    a_again = photo(tmp_path / "a_resized.jpg", 1, scale=0.8, quality=85)
    b = photo(tmp_path / "b.jpg", 2)
    ingest(settings, db, [FeedRow(line=2, external_id="p", title="P", images=[a, b, a_again])])
    f = flags(db)["p"]
    assert f[0][:2] == (None, None) and f[1][:2] == (None, None)
    assert f[2][0] is False and f[2][1] is False and f[2][2].startswith("duplicate of image")
    assert [kind for kind, _ in groups(db)] == ["near"]


def test_relisted_product_is_flagged_and_kept_out_of_search(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    imgs = [photo(tmp_path / f"{i}.jpg", i) for i in (1, 2)]
    relisted = [photo(tmp_path / f"{i}_again.jpg", i, scale=0.8, quality=85) for i in (1, 2)]
    ingest(
        settings,
        db,
        [
            FeedRow(line=2, external_id="old", title="Jacket", seller="s", price=50, images=imgs),
            FeedRow(
                line=3, external_id="new", title="Jacket!", seller="s", price=45, images=relisted
            ),
        ],
    )
    f = flags(db)
    assert all(search is None for _, search, _ in f["old"])
    assert all(search is False and reason.startswith("relisted") for _, search, reason in f["new"])
    with db.session() as session:
        new = session.scalar(select(ProductRow).where(ProductRow.external_id == "new"))
        old_id = session.scalar(select(ProductRow.id).where(ProductRow.external_id == "old"))
        assert new.attributes["relisted_of"] == old_id
    assert [kind for kind, _ in groups(db)] == ["relisted"]


def test_shared_photo_is_recognised_not_deleted(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    shared = photo(tmp_path / "outfit.jpg", 7)
    jacket = photo(tmp_path / "jacket.jpg", 8)
    skirt = photo(tmp_path / "skirt.jpg", 9)
    ingest(
        settings,
        db,
        [
            FeedRow(
                line=2, external_id="jacket", title="Jacket", seller="s", images=[shared, jacket]
            ),
            FeedRow(line=3, external_id="skirt", title="Skirt", seller="s", images=[shared, skirt]),
        ],
    )
    assert all(search is None for v in flags(db).values() for _, search, _ in v)
    kinds = [kind for kind, _ in groups(db)]
    assert kinds == ["shared"]


def test_same_item_at_two_shops_is_one_offer_group_with_prices(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    imgs = [photo(tmp_path / f"{i}.jpg", i) for i in (3, 4)]
    copies = [photo(tmp_path / f"{i}_shop.jpg", i, scale=0.8, quality=85) for i in (3, 4)]
    ingest(
        settings,
        db,
        [
            FeedRow(line=2, external_id="a", title="Coat", seller="shop-a", price=120, images=imgs),
            FeedRow(
                line=3, external_id="b", title="Coat", seller="shop-b", price=89, images=copies
            ),
            FeedRow(
                line=4,
                external_id="c",
                title="Other",
                seller="shop-b",
                price=10,
                images=[photo(tmp_path / "other.jpg", 5)],
            ),
        ],
    )
    offer = [(kind, members) for kind, members in groups(db) if kind == "offer"]
    assert len(offer) == 1 and [pid for pid, _ in offer[0][1]] == [1, 2]
    with db.session() as session:
        reasons = sorted(
            m.reason for g in session.scalars(select(DuplicateGroup)) for m in g.members
        )
    assert reasons == ["shop-a: 120.0", "shop-b: 89.0"]
    # Nothing is hidden for an offer group: both shops stay searchable.
    assert all(search is None for v in flags(db).values() for _, search, _ in v)


def test_rerun_is_stable_and_a_split_group_stays_split(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    one_coat_at_two_shops(tmp_path, settings, db)
    first = groups(db)
    run_ingest(settings, db, stages=["dedupe"])
    assert groups(db) == first
    with db.session() as session:
        session.scalars(select(DuplicateGroup)).one().status = "split"
    run_ingest(settings, db, stages=["dedupe"])  # nothing new to fingerprint, regroup only
    with db.session() as session:
        assert [g.status for g in session.scalars(select(DuplicateGroup))] == ["split"]


def test_bad_stored_image_fails_the_stage_not_the_batch(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    good = photo(tmp_path / "good.jpg", 1)
    ingest(settings, db, [FeedRow(line=2, external_id="p", title="P", images=[good])])
    with db.session() as session:
        assert session.scalars(select(ImageRow)).one().status == "stored"


def test_colour_variants_sharing_a_photo_are_not_relistings(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    same = photo(tmp_path / "1.jpg", 1)
    again = photo(tmp_path / "1_again.jpg", 1, scale=0.8, quality=85)
    ingest(
        settings,
        db,
        [
            FeedRow(
                line=2,
                external_id="tee-blue",
                title="Tee",
                seller="s",
                images=[same],
                attributes={"color": "blue"},
            ),
            FeedRow(
                line=3,
                external_id="tee-green",
                title="Tee",
                seller="s",
                images=[again],
                attributes={"color": "green"},
            ),
        ],
    )
    assert all(search is None for v in flags(db).values() for _, search, _ in v)
    assert [kind for kind, _ in groups(db)] == ["variants"]


def pairs(db: Database) -> list[tuple[int, int, bool]]:
    with db.session() as session:
        rows = session.scalars(select(ImageMatchRow).order_by(ImageMatchRow.image_a))
        return [(m.image_a, m.image_b, m.exact) for m in rows]


def test_a_later_ingest_verifies_only_the_new_images(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    imgs = [photo(tmp_path / f"{i}.jpg", i) for i in (3, 4)]
    ingest(settings, db, [FeedRow(line=2, external_id="a", title="Coat", seller="a", images=imgs)])
    assert pairs(db) == []  # two different pictures: compared, nothing found
    copies = [photo(tmp_path / f"{i}_shop.jpg", i, scale=0.8, quality=85) for i in (3, 4)]
    import_rows(
        db,
        [FeedRow(line=3, external_id="b", title="Coat", seller="b", price=9, images=copies)],
        source="test",
    )
    summary = run_ingest(settings, db, stages=["store", "dedupe"])
    report = summary.reports["dedupe"]
    assert isinstance(report, DedupeReport)
    assert (report.images, report.compared) == (4, 2)  # the first product's photos read back
    assert pairs(db) == [(1, 3, False), (2, 4, False)]
    assert [kind for kind, _ in groups(db)] == ["offer"]

    # The stored pairs give what a full recomputation gives.
    incremental = (groups(db), flags(db))
    with db.session() as session:
        forget_matches(session)
    again = run_ingest(settings, db, stages=["dedupe"]).reports["dedupe"]
    assert isinstance(again, DedupeReport) and again.compared == 4
    assert (groups(db), flags(db)) == incremental
    assert pairs(db) == [(1, 3, False), (2, 4, False)]


def test_a_changed_photo_is_verified_again(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    a, b = photo(tmp_path / "a.jpg", 1), photo(tmp_path / "b.jpg", 1, scale=0.8, quality=85)
    ingest(
        settings,
        db,
        [
            FeedRow(line=2, external_id="p", title="P", seller="s", images=[a]),
            FeedRow(line=3, external_id="q", title="Q", seller="s", images=[b]),
        ],
    )
    assert pairs(db) == [(1, 2, False)]
    # The second photo is fingerprinted again (as the dedupe stage stores it), now another
    # picture: its stored pair must not survive.
    other = Path(photo(tmp_path / "c.jpg", 2)).read_bytes()
    with db.session() as session:
        session.merge(to_row(2, fingerprint_file(other)))
    report = run_ingest(settings, db, stages=["dedupe"]).reports["dedupe"]
    assert isinstance(report, DedupeReport) and report.compared == 1
    assert pairs(db) == []
    assert groups(db) == []


def test_dedupe_command_on_the_catalog_and_recompute(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    from typer.testing import CliRunner

    from modiste.cli import dedupe as _  # noqa: F401  (registers the command)
    from modiste.cli._apps import app

    one_coat_at_two_shops(tmp_path, settings, db)
    runner, base = CliRunner(), ["--data-dir", str(settings.data_dir), "dedupe"]
    out = tmp_path / "report.json"
    res = runner.invoke(app, [*base, "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert (report["images"], report["compared"]) == (4, 0)  # nothing new: pairs read back
    assert [g["kind"] for g in report["offer_groups"]] == ["offer"]
    res = runner.invoke(app, [*base, "--recompute", "--json", str(out)])
    assert res.exit_code == 0, res.output
    again = json.loads(out.read_text())
    assert again["compared"] == 4 and again["offer_groups"] == report["offer_groups"]
    res = runner.invoke(app, [*base, "--accept", "0.9"])
    assert res.exit_code != 0 and "--images or --items" in res.output
