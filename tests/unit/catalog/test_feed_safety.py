"""Feeds from untrusted sellers: shop links must be http(s), local images stay in their roots."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow, RowError, read_feed
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ImageRow, ProductRow
from modiste.config import Settings


def photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 200, 10)).save(path)
    return path


def links(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {p.external_id: p.link for p in s.scalars(select(ProductRow))}


def test_unsafe_shop_links_are_reported_and_dropped_the_rows_import(
    db: Database, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,link\n"
        "1,Coat,javascript:alert(document.domain)\n"
        "2,Scarf,JaVaScRiPt:alert(1)\n"
        '3,Hat,"data:text/html,<script>alert(1)</script>"\n'
        "4,Belt,https://shop.example/belt\n"
        "5,Sock,\n"
    )
    report = import_feed(db, feed)
    assert (report.created, report.errors) == (5, [])
    assert [(w.line, w.external_id) for w in report.warnings] == [(2, "1"), (3, "2"), (4, "3")]
    assert all("dropped: only http(s)" in w.reason for w in report.warnings)
    listed = report.as_dict()["warnings"]
    assert isinstance(listed, list) and listed[0]["reason"].startswith("link 'javascript:")
    assert links(db) == {
        "1": None,
        "2": None,
        "3": None,
        "4": "https://shop.example/belt",
        "5": None,
    }


def test_a_link_stored_by_an_older_import_is_cleared_by_the_next(
    db: Database, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title,link\n1,Coat,javascript:alert(1)\n")
    import_feed(db, feed)
    with db.session() as s:  # as an import before the check would have stored it
        s.scalars(select(ProductRow)).one().link = "javascript:alert(1)"
        s.scalars(select(ProductRow)).one().row_hash = "from-an-older-version"
    import_feed(db, feed)
    assert links(db) == {"1": None}


def test_local_images_must_stay_in_the_feeds_folder(db: Database, tmp_path: Path) -> None:
    shop = tmp_path / "shop-a"
    photo(shop / "img" / "ok.jpg")
    secret = photo(tmp_path / "shop-b" / "private.jpg")
    (shop / "img" / "link.jpg").symlink_to(secret)
    stored = photo(tmp_path / "data" / "images" / "ab" / "cd.jpg")  # the catalog's own store
    feed = shop / "feed.csv"
    feed.write_text(
        "id,title,image_link\n"
        "1,Good,img/ok.jpg\n"
        "2,Dotdot,../shop-b/private.jpg\n"
        f"3,Absolute,{secret}\n"
        "4,Symlink,img/link.jpg\n"
        "5,Passwd,/etc/passwd\n"
        f"6,Store,{stored}\n"
    )
    report = import_feed(db, feed)
    assert report.created == 1
    assert [(e.line, e.external_id) for e in report.errors] == [
        (3, "2"), (4, "3"), (5, "4"), (6, "5"), (7, "6")
    ]  # fmt: skip
    assert all("refused" in e.reason for e in report.errors)
    with db.session() as s:
        assert s.scalars(select(ImageRow.source)).all() == [str(shop / "img" / "ok.jpg")]


def test_configured_roots_allow_a_shared_photo_folder(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    shot = photo(photos / "a.jpg")
    settings = Settings(data_dir=tmp_path / "data", feed_file_roots=[photos])
    db = Database(settings)
    db.migrate()
    feed = tmp_path / "feeds" / "feed.csv"
    feed.parent.mkdir()
    feed.write_text(f"id,title,image_link\n1,Shared,{shot}\n2,Own folder,own.jpg\n")
    photo(feed.parent / "own.jpg")
    report = import_feed(db, feed)
    assert report.created == 1 and [e.line for e in report.errors] == [3]  # roots replace it
    db.dispose()


def test_a_folder_import_does_not_follow_a_symlink_out(tmp_path: Path) -> None:
    photo(tmp_path / "cat" / "tee" / "front.jpg")
    (tmp_path / "cat" / "coat").mkdir()
    (tmp_path / "cat" / "coat" / "front.jpg").symlink_to(photo(tmp_path / "elsewhere" / "x.jpg"))
    rows = list(read_feed(tmp_path / "cat"))
    assert isinstance(rows[0], RowError) and "outside the folders" in rows[0].reason
    assert isinstance(rows[1], FeedRow) and rows[1].external_id == "tee"
