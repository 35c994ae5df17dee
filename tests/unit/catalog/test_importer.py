"""Importing feeds into the catalog: idempotent upserts, changes, sellers, unicode, queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

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
from modiste.catalog.schema import ImageRow, ProductRow, Seller
from modiste.config import Settings
from modiste.errors import ModisteError, NotFoundError

JP_TITLE = "「メンズ 長袖 シャツ」"
FEED = (
    "id,title,brand,gender,product_type,price,image_link,additional_image_link,color\n"
    f'1,{JP_TITLE},Kaze,male,Shirts,"1,299.00",img/1a.jpg,"img/1b.jpg,http://cdn.example/1c.jpg",紺\n'
    "2,Linen trousers,Sora,female,Pants,EUR 12,img/2a.jpg,,beige\n"
    "3,Wool coat,Kaze,female,Coats,15.00 USD,img/3a.jpg,,\n"
    ",missing id,,,,,,,\n"
    "5,Bad price,,,,cheap,,,\n"
)


@pytest.fixture
def db(settings: Settings) -> Database:
    database = Database(settings)
    database.migrate()
    yield database  # type: ignore[misc]
    database.dispose()


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(t)) for t in (Seller, ProductRow, ImageRow)
        )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_migrate_is_idempotent_and_at_head(db: Database) -> None:
    db.migrate()
    assert current_revision(db.engine) is not None
    db.ensure_ready()


def test_migrations_build_exactly_the_tables_the_code_declares(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from modiste.catalog.schema import Base

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # The full-text tables are SQLite FTS5 virtual tables, made in raw SQL by migration 0002.
    fts = {"products_fts", *(f"products_fts_{p}" for p in ("data", "idx", "config", "docsize"))}
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name in fts)] == []


def test_an_older_catalog_is_refused_until_upgraded_and_keeps_its_data(
    settings: Settings, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from modiste.catalog.migrate import head_revision, upgrade

    old = Database(settings)
    upgrade(old.engine, "0004")
    with old.engine.begin() as conn:  # rows as that version wrote them (no ORM: newer columns)
        conn.execute(
            text("INSERT INTO sellers (id, name, created_at) VALUES (1, 's', '2026-01-01')")
        )
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO products (seller_id, external_id, title, description, attributes,"
                    " created_at, updated_at) VALUES (1, :e, 'T', '', '{}', '2026-01-01',"
                    " '2026-01-01')"
                ),
                {"e": f"p{i}"},
            )
    with pytest.raises(ModisteError, match=r"schema 0004, this Modiste needs .*modiste init"):
        old.ensure_ready()
    old.migrate()
    old.ensure_ready()
    assert current_revision(old.engine) == head_revision()
    assert counts(old)[1] == 3
    old.dispose()


def test_ensure_ready_before_init(settings: Settings) -> None:
    with pytest.raises(ModisteError, match="modiste init"):
        Database(settings).ensure_ready()


def test_import_then_reimport_is_idempotent(db: Database, tmp_path: Path) -> None:
    feed = write(tmp_path / "feed.csv", FEED)
    report = import_feed(db, feed)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert report.images_added == 5
    assert [(e.line, e.reason) for e in report.errors] == [
        (5, "missing id"),
        (6, "price 'cheap' is not a number"),
    ]
    assert counts(db) == (1, 3, 5)
    again = import_feed(db, feed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (again.images_added, again.images_removed) == (0, 0)
    assert counts(db) == (1, 3, 5)


def test_unicode_and_attributes_round_trip(db: Database, tmp_path: Path) -> None:
    import_feed(db, write(tmp_path / "feed.csv", FEED))
    with db.session() as s:
        p = product_dict(get_product(s, "1"))
    assert p["title"] == JP_TITLE and p["attributes"] == {"color": "紺", "gender_raw": "male"}
    assert (p["price"], p["currency"], p["seller"]) == (1299.0, None, "default")
    assert p["gender"] == "men" and p["gender_confidence"] == 1.0  # the feed's "male"
    assert [i["source"] for i in p["images"]] == [
        str(tmp_path / "img" / "1a.jpg"),
        str(tmp_path / "img" / "1b.jpg"),
        "http://cdn.example/1c.jpg",
    ]
    assert [i["position"] for i in p["images"]] == [0, 1, 2]
    assert {i["status"] for i in p["images"]} == {"pending"}


def test_changed_rows_update_title_and_images(db: Database, tmp_path: Path) -> None:
    feed = write(tmp_path / "feed.csv", FEED)
    import_feed(db, feed)
    with db.session() as s:
        kept = s.scalar(select(ImageRow).where(ImageRow.source.endswith("1b.jpg")))
        kept.status = "stored"  # pretend ingest ran: an image kept in the feed keeps its state
        kept_id = kept.id
    changed = FEED.replace(JP_TITLE, "「メンズ 半袖 シャツ」").replace(
        '"img/1b.jpg,http://cdn.example/1c.jpg"', '"img/1d.jpg,img/1b.jpg"'
    )
    report = import_feed(db, write(feed, changed))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert (report.images_added, report.images_removed) == (1, 1)
    with db.session() as s:
        p = get_product(s, "1")
        assert p.title == "「メンズ 半袖 シャツ」"
        assert [(Path(i.source).name, i.position) for i in p.images] == [
            ("1a.jpg", 0),
            ("1d.jpg", 1),
            ("1b.jpg", 2),
        ]
        kept = s.get(ImageRow, kept_id)
        assert kept is not None and kept.status == "stored" and kept.position == 2
    assert counts(db) == (1, 3, 5)


def test_seller_column_wins_over_option(db: Database, tmp_path: Path) -> None:
    feed = write(tmp_path / "feed.csv", "id,title,seller\n1,Shirt,acme\n2,Scarf,\n")
    import_feed(db, feed, seller="shop-b")
    with db.session() as s:
        sellers = dict(s.execute(select(ProductRow.external_id, Seller.name).join(Seller)).all())
    assert sellers == {"1": "acme", "2": "shop-b"}
    # the same feed for another seller is a different catalog: new products, not updates
    report = import_feed(db, write(tmp_path / "other.csv", "id,title\n1,Shirt\n"), seller="c")
    assert report.created == 1
    with db.session() as s:
        with pytest.raises(NotFoundError, match="several sellers"):
            get_product(s, "1")
        assert get_product(s, "1", seller="c").seller.name == "c"


def test_folder_import(db: Database, tmp_path: Path) -> None:
    for name in ("shirt/1.jpg", "shirt/2.jpg", "dress/a.png"):
        (tmp_path / "cat" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cat" / name).write_bytes(b"x")
    report = import_feed(db, tmp_path / "cat", seller="folder-shop")
    assert (report.created, report.images_added) == (2, 3)


def test_queries_and_status(db: Database, tmp_path: Path) -> None:
    import_feed(db, write(tmp_path / "feed.csv", FEED))
    with db.session() as s:
        assert catalog_status(s)["images"] == {"total": 5, "pending": 5, "stored": 0, "failed": 0}
        assert catalog_status(s)["products"] == 3
        _, total = list_products(s)
        assert total == 3

        def ids(flt: ProductFilter, **kw: int) -> list[str]:
            return [p.external_id for p in list_products(s, flt, **kw)[0]]

        assert ids(ProductFilter(gender="FEMALE")) == ["2", "3"]
        assert ids(ProductFilter(product_type="COATS")) == ["3"]
        assert ids(ProductFilter(product_type="coat")) == []  # a category, not a substring
        assert ids(ProductFilter(min_price=13, max_price=20)) == ["3"]
        assert ids(ProductFilter(query="長袖")) == ["1"]
        assert ids(ProductFilter(query="kaze")) == ["1", "3"]
        assert ids(ProductFilter(seller="nobody")) == []
        assert ids(ProductFilter(), limit=1, offset=1) == ["2"]
        internal = get_product(s, "2").id
        assert get_product(s, internal).external_id == "2"
        with pytest.raises(NotFoundError, match="no product 'nope'"):
            get_product(s, "nope")


def test_numeric_feed_ids_are_not_shadowed_by_internal_ids(db: Database, tmp_path: Path) -> None:
    import_feed(db, write(tmp_path / "a.csv", "id,title\n900,First\n901,Second\n"), seller="a")
    import_feed(db, write(tmp_path / "b.csv", "id,title\n1,Feed id one\n"), seller="b")
    with db.session() as s:
        first = get_product(s, "900")
        assert first.id == 1 and first.title == "First"
        assert get_product(s, "1").title == "Feed id one"  # feed id wins over internal id 1
        assert get_product(s, "2").title == "Second"  # no feed id "2": internal id
        assert get_product(s, 1).title == "First"  # an int is always an internal id
        for huge in (2**40, "99999999999999999999", 0, -3):
            with pytest.raises(NotFoundError):
                get_product(s, huge)


def test_reimport_keeps_a_persons_edits_the_models_fills_and_the_gallery(
    db: Database, tmp_path: Path
) -> None:
    from modiste.catalog.service import update_product

    import_feed(db, write(tmp_path / "feed.csv", FEED))
    with db.session() as s:
        coat = get_product(s, "3")
        update_product(s, coat.id, {"product_type": "Outerwear/Coats", "brand": "Kaze Studio"})
        trousers = get_product(s, "2")  # as if the categorizer had filled it
        trousers.product_type, trousers.product_type_confidence = "Pants", 0.83
    # The next feed: new prices, and no type for the trousers.
    repriced = FEED.replace("15.00 USD", "19.00 USD")
    repriced = repriced.replace("female,Pants,EUR 12", "female,,EUR 9")
    report = import_feed(db, write(tmp_path / "feed2.csv", repriced))
    assert report.updated == 2
    with db.session() as s:
        coat, trousers = get_product(s, "3"), get_product(s, "2")
        assert (coat.price, coat.brand) == (19.0, "Kaze Studio")
        assert (coat.product_type, coat.product_type_confidence) == ("Outerwear/Coats", 1.0)
        assert coat.edited_fields == ["brand", "product_type"]
        assert (trousers.price, trousers.product_type) == (9.0, "Pants")
        assert trousers.product_type_confidence == 0.83  # still the model's guess

    # A price-only feed (no image columns) updates prices and leaves every gallery as it was.
    prices = write(tmp_path / "prices.csv", "id,title,price\n1,Shirt,10\n3,Coat,20\n")
    report = import_feed(db, prices)
    assert (report.updated, report.images_removed) == (2, 0)
    assert counts(db) == (1, 3, 5)
    with db.session() as s:
        assert get_product(s, "1").price == 10.0


def test_failure_reasons_group_even_when_the_path_holds_a_colon() -> None:
    from modiste.catalog.repository import failure_reason

    source = "/photos/look: summer/z.jpg"
    assert failure_reason(f"{source}: not an image (content ...)", source) == "not an image"
    assert failure_reason("a.jpg: file not found (errno 2)") == "file not found"
    assert failure_reason(None) == "unknown"


def test_type_filter_is_a_category_path(db: Database, tmp_path: Path) -> None:
    feed = (
        "id,title,product_type\n1,Rain jacket,Men/Tops/Jackets\n2,Rain jacket,Women/Tops/Jackets\n"
    )
    feed += "3,Tee,Men > Tops > T-Shirts\n4,Bag,Men/Topshop\n"
    import_feed(db, write(tmp_path / "feed.csv", feed))
    with db.session() as s:

        def ids(product_type: str) -> list[str]:
            return [
                p.external_id for p in list_products(s, ProductFilter(product_type=product_type))[0]
            ]

        assert ids("Men/Tops/Jackets") == ["1"]  # not the women's jacket
        assert ids("men / tops") == ["1", "3"]  # that category or below it, any spelling
        assert ids("Men/Top") == []  # segments, not prefixes of words
        assert ids("Jackets") == []


def test_filters_take_percent_and_underscore_literally(db: Database, tmp_path: Path) -> None:
    feed = "id,title,product_type\n1,Shirt 100% linen,Tops\n2,Linen shirt 100 percent,Tops\n"
    feed += "3,Model AxB,Bags\n4,Model A_B,Bags\n"
    import_feed(db, write(tmp_path / "feed.csv", feed))
    with db.session() as s:
        cases = (("100%", ["1"]), ("A_B", ["4"]), ("%", ["1"]), ("linen", ["1", "2"]))
        for text, expected in cases:
            rows, total = list_products(s, ProductFilter(query=text))
            assert [p.external_id for p in rows] == expected and total == len(expected), text
        assert list_products(s, ProductFilter(product_type="_"))[1] == 0
