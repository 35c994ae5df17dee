"""Text search on PostgreSQL (migration 0009's trigram index) finds what SQLite's FTS5 finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.config import Settings
from modiste.search.synonyms import load_synonyms
from modiste.search.text import SearchFilters, TextSearch

pytestmark = pytest.mark.postgres

# external id, title, brand, product_type, description, gender, price, seller
ROWS = [
    ("p1", "Slim black trousers", "Acme", "Men/Bottoms/Pants", "Stretch cotton", "men", 40.0, "a"),
    ("p2", "メンズ 長袖 シャツ", "", "シャツ", "綿100%", "men", 30.0, "a"),
    ("p3", "レディース ワンピース 花柄", "Hana", "ワンピース", "", "women", 55.0, "b"),
    ("p4", "Denim overalls", "Workwear", "Overalls", "Heavy denim bib", "women", 70.0, "b"),
    ("p5", "Floral summer dress", "Acme", "Dresses", "A light dress", "women", 35.0, "a"),
    ("p6", "Running sneakers", "Fleet", "Shoes", "Mesh upper", "unisex", 90.0, "b"),
    ("p7", "デニム サロペット", "", "サロペット", "デニム生地", "women", 65.0, "a"),
    ("p8", "Linen shirt", "Denim & Co", "Men/Tops/Shirts", "Summer linen", "men", 45.0, "b"),
    ("p10", "Logo tee (v2) a.b+c", "", "Tops", "[x]", "unisex", 20.0, "a"),
    ("p9", "Rain jacket", "Acme", "Men/Outerwear", "Over a shirt, 100%_dry", "men", 80.0, "a"),
]

QUERIES = [
    "dress", "ワンピース", "overalls", "サロペット", "パンツ", "denim", "denim overalls",
    "black trousers", "red trousers", "靴", "SHIRT", "シャツ", "acme", "summer", "linen shirt",
    "%", "_", "100%", "jackets", "ジャケット", "mesh", "zzz", "(v2)", "a.b+c", "a*b", ".", "[x]",
    "v2)", "^logo", "tee$",
]  # fmt: skip


def _load(db: Database) -> Database:
    db.migrate()
    rows = [
        FeedRow(
            line=i,
            external_id=pid,
            title=title,
            brand=brand or None,
            product_type=ptype,
            description=desc,
            gender=gender,
            price=price,
            seller=seller,
        )
        for i, (pid, title, brand, ptype, desc, gender, price, seller) in enumerate(ROWS, start=2)
    ]
    import_rows(db, rows, source="test")
    return db


@pytest.fixture
def pg_db(postgres_url: str, tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(data_dir=tmp_path / "pg", database_url=postgres_url))
    yield _load(db)
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(Settings(data_dir=tmp_path / "sqlite"))
    yield _load(db)
    db.dispose()


def _ids(db: Database, query: str, flt: SearchFilters | None = None) -> list[str]:
    with db.session() as session:
        res = TextSearch(load_synonyms()).search(session, query, flt, per_page=100)
    assert res.total == len(res.hits)
    return [h.product["external_id"] for h in res.hits]


def test_same_results_as_sqlite_fts5(pg_db: Database, sqlite_db: Database) -> None:
    """Regex characters in a query mean themselves on PostgreSQL too ("a.b+c", "(v2)")."""
    assert sorted(_ids(pg_db, "(v2)")) == ["p10"] and _ids(pg_db, "a*b") == []
    for query in QUERIES:
        assert sorted(_ids(pg_db, query)) == sorted(_ids(sqlite_db, query)), query
    for flt in (SearchFilters(gender="women", max_price=60), SearchFilters(seller="b")):
        assert sorted(_ids(pg_db, "dress", flt)) == sorted(_ids(sqlite_db, "dress", flt))
    # the synonyms reach across languages on PostgreSQL too; % and _ mean themselves
    assert sorted(_ids(pg_db, "ワンピース")) == ["p3", "p5"]
    assert sorted(_ids(pg_db, "denim overalls")) == ["p4", "p7"]
    assert sorted(_ids(pg_db, "100%")) == ["p2", "p9"] and _ids(pg_db, "_") == ["p9"]
    assert _ids(pg_db, "red trousers") == [] == _ids(pg_db, "zzz")


def test_a_title_match_ranks_above_a_brand_or_description_match(pg_db: Database) -> None:
    # "denim": p4's title, p7's title (デニム is a synonym), p8's brand only.
    assert _ids(pg_db, "denim")[-1] == "p8"
    # "shirt": p8's title and type, p2's type (シャツ), p9's description only.
    assert _ids(pg_db, "shirt")[-1] == "p9"


def test_the_trigram_index_answers_the_query(pg_db: Database) -> None:
    with pg_db.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # nine rows: a scan would always win
        conn.execute(text("ANALYZE products"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM products WHERE "
                    "modiste_product_trigrams(title, brand, product_type, description) "
                    "@> modiste_trigrams(:t)"
                ),
                {"t": "overalls"},
            )
        )
    assert "ix_products_search_trigrams" in plan, plan


def test_the_search_query_itself_uses_the_index(pg_db: Database) -> None:
    """The statement TextSearch sends (read from the engine's log) is planned on the index."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def record(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if "modiste_trigrams" in statement and "count(" not in statement:
            statements.append((statement, params))

    event.listen(pg_db.engine, "before_cursor_execute", record)
    try:
        assert sorted(_ids(pg_db, "overalls")) == ["p4", "p7"]
    finally:
        event.remove(pg_db.engine, "before_cursor_execute", record)
    assert statements
    statement, params = statements[0]
    raw = pg_db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + statement, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    finally:
        raw.close()
    assert "ix_products_search_trigrams" in plan, plan


def test_new_and_edited_products_are_found(pg_db: Database) -> None:
    with pg_db.session() as session:
        edit = "UPDATE products SET title = 'Quilted gilet' WHERE external_id = 'p6'"
        session.execute(text(edit))
        session.commit()
    assert _ids(pg_db, "gilet") == ["p6"] and "p6" not in _ids(pg_db, "running")


def test_downgrade_removes_the_index_and_functions(pg_db: Database) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from modiste.catalog.migrate import alembic_config

    cfg = alembic_config(pg_db.engine)
    before = ScriptDirectory.from_config(cfg).get_revision("0009").down_revision
    with pg_db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before))
    with pg_db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'modiste_%trigrams'")
        ).scalar()
        index = conn.execute(
            text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_products_search_trigrams'")
        ).scalar()
    assert (found, index) == (0, 0)


def _trigrams(text_: str) -> list[str]:
    low = text_.lower()
    return sorted(low[i : i + 3] for i in range(len(low) - 2))


def test_trigram_functions_cut_by_character(pg_db: Database) -> None:
    long = "Soft brushed fleece, デニム調 " * 200  # a long description: one pass, not quadratic
    cases = ["", "ab", "Abc", "Slim デニム x", long]
    with pg_db.engine.connect() as conn:
        for case in cases:
            got = conn.execute(text("SELECT modiste_trigrams(:t)"), {"t": case}).scalar()
            assert sorted(got or []) == _trigrams(case), case[:20]
        row = conn.execute(
            text("SELECT modiste_product_trigrams('Ab', NULL, 'Tee', :d)"), {"d": long}
        ).scalar()
    assert sorted(row or []) == _trigrams("Ab\n\nTee\n" + long)


def test_colours_sort_and_facets_agree_with_sqlite(pg_db: Database, sqlite_db: Database) -> None:
    """Issue #14 items 8 and 17 on PostgreSQL: a photo's colour, price order, facet counts."""
    extra = [
        FeedRow(line=50, external_id="j1", title="Stellar Solar Jacket", seller="a", price=79.0,
                product_type="Women/Tops/Jackets", attributes={"photo_colour": "red"}),
        FeedRow(line=51, external_id="j2", title="Storm anorak", seller="b", price=61.0,
                product_type="Outerwear", attributes={"color": "Dark Red"}),
    ]  # fmt: skip
    out = []
    for db in (pg_db, sqlite_db):
        import_rows(db, extra, source="test")
        with db.session() as session:
            search = TextSearch(load_synonyms())
            colour = search.search(session, "赤 ジャケット", sort="price_asc", facets=True)
            cheap = search.search(session, "shirt", sort="price_asc")
            out.append(
                (
                    [h.product["external_id"] for h in colour.hits],
                    colour.facets,
                    [h.product["external_id"] for h in cheap.hits],
                )
            )
    assert out[0] == out[1]
    ids, facets, shirts = out[0]
    assert ids == ["j2", "j1"]  # the anorak is cheaper; both are red only outside the title
    assert facets["seller"] == [("a", 1), ("b", 1)]
    assert shirts == sorted(shirts, key=lambda p: {"p2": 30, "p8": 45, "p9": 80}[p])
