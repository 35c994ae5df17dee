"""Text search: FTS5 trigram matching, synonyms across English and Japanese, filters, paging."""

from __future__ import annotations

import pytest

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.config import Settings
from modiste.errors import ConfigError
from modiste.search.synonyms import Synonyms, load_synonyms, normalise
from modiste.search.text import SearchFilters, TextSearch

ROWS = [
    ("p1", "Slim black trousers", "Men/Bottoms/Pants", "men", 40.0, "shop-a"),
    ("p2", "メンズ 長袖 シャツ", "シャツ", "men", 30.0, "shop-a"),
    ("p3", "レディース ワンピース 花柄", "ワンピース", "women", 55.0, "shop-b"),
    ("p4", "Denim overalls", "Overalls", "women", 70.0, "shop-b"),
    ("p5", "Floral summer dress", "Dresses", "women", 35.0, "shop-a"),
    ("p6", "Running sneakers", "Shoes", "unisex", 90.0, "shop-b"),
    ("p7", "デニム サロペット", "サロペット", "women", 65.0, "shop-a"),
]


@pytest.fixture
def db(settings: Settings) -> Database:
    database = Database(settings)
    database.migrate()
    rows = [
        FeedRow(
            line=i,
            external_id=pid,
            title=title,
            product_type=ptype,
            gender=g,
            price=price,
            seller=seller,
        )
        for i, (pid, title, ptype, g, price, seller) in enumerate(ROWS, start=2)
    ]
    import_rows(database, rows, source="test")
    return database


def ids(db: Database, query: str, flt: SearchFilters | None = None, **kw: int) -> list[str]:
    with db.session() as session:
        res = TextSearch(load_synonyms()).search(session, query, flt, **kw)
    return [h.product["external_id"] for h in res.hits]


def test_japanese_and_english_synonyms_find_each_other(db: Database) -> None:
    assert ids(db, "パンツ") == ["p1"]
    assert sorted(ids(db, "dress")) == ["p3", "p5"]
    assert sorted(ids(db, "ワンピース")) == ["p3", "p5"]
    assert sorted(ids(db, "overalls")) == ["p4", "p7"]
    assert sorted(ids(db, "サロペット")) == ["p4", "p7"]


def test_concepts_are_anded_and_title_ranks_first(db: Database) -> None:
    assert sorted(ids(db, "denim overalls")) == ["p4", "p7"]  # デニム サロペット too
    assert ids(db, "black trousers") == ["p1"]
    assert ids(db, "red trousers") == []


def test_short_cjk_terms_use_like(db: Database) -> None:
    # 靴 is one character: too short for trigrams; its synonyms still find the sneakers.
    assert ids(db, "靴") == ["p6"]


def test_filters_and_pagination(db: Database) -> None:
    assert ids(db, "dress", SearchFilters(max_price=40)) == ["p5"]
    assert ids(db, "dress", SearchFilters(seller="shop-b")) == ["p3"]
    assert ids(db, "overalls", SearchFilters(gender="WOMEN", min_price=66)) == ["p4"]
    first = ids(db, "dress", per_page=1, page=1)
    second = ids(db, "dress", per_page=1, page=2)
    assert len(first) == len(second) == 1 and first != second


def test_wildcard_characters_are_literal(db: Database) -> None:
    assert ids(db, "%") == [] and ids(db, "_") == []  # not "everything"
    assert ids(db, "dress", SearchFilters(category="%")) == []
    assert ids(db, "dress", SearchFilters(category="Dresses")) == ["p5"]


def test_category_is_a_path_not_a_substring(db: Database) -> None:
    """Issue #14 item 2: "Men/Tops/Jackets" returned women's jackets (a substring match)."""
    import_rows(
        db,
        [
            FeedRow(line=2, external_id="j1", title="Rain jacket", product_type="Men/Tops/Jackets"),
            FeedRow(
                line=3, external_id="j2", title="Wool jacket", product_type="Women/Tops/Jackets"
            ),
            FeedRow(line=4, external_id="j3", title="Bomber jacket", product_type="Men > Topshop"),
            FeedRow(line=5, external_id="j4", title="Denim jacket", product_type="Jackets"),
        ],
        source="jackets",
    )
    assert ids(db, "jacket", SearchFilters(category="Men/Tops/Jackets")) == ["j1"]
    assert ids(db, "jacket", SearchFilters(category="men / tops / jackets")) == ["j1"]
    assert ids(db, "jacket", SearchFilters(category="Men > Tops")) == ["j1"]  # or below it
    assert sorted(ids(db, "jacket", SearchFilters(category="Men"))) == ["j1", "j3"]
    assert ids(db, "jacket", SearchFilters(category="Jackets")) == ["j4"]  # not every jacket
    assert ids(db, "jacket", SearchFilters(category="Tops/Jackets")) == []
    assert ids(db, "jacket", SearchFilters(category="Men/Top")) == []  # whole segments only
    assert len(ids(db, "jacket", SearchFilters(category=" / "))) == 4  # no category: no filter


def test_index_follows_updates_and_deletes(db: Database) -> None:
    import_rows(
        db, [FeedRow(line=2, external_id="p1", title="Wool coat", seller="shop-a")], source="update"
    )
    assert ids(db, "trousers") == []
    assert ids(db, "coat") == ["p1"]


def test_empty_and_odd_queries_do_not_crash(db: Database) -> None:
    assert ids(db, "") == []
    assert ids(db, '"; DROP TABLE products; --') == []
    assert ids(db, "ＴＳＨＩＲＴ") == []  # full-width is normalised, nothing matches
    assert ids(db, "dr\x00ess\x1f°") == []  # control characters never reach FTS5


def test_synonym_groups_merge_and_phrases() -> None:
    syn = Synonyms()
    syn.add_group(["tank top", "タンクトップ"])
    syn.add_group(["tank top", "singlet"])
    assert syn.expand("singlet") == {"tank top", "タンクトップ", "singlet"}
    concepts = syn.concepts("red Tank Top")
    assert concepts[0] == {"red"} and "singlet" in concepts[1]
    assert normalise("ﾊﾟﾝﾂ") == "パンツ"


def _add(db: Database, *rows: tuple[str, str, str, dict[str, str]]) -> None:
    feed = [
        FeedRow(line=i, external_id=pid, title=title, product_type=ptype, attributes=attrs)
        for i, (pid, title, ptype, attrs) in enumerate(rows, start=100)
    ]
    import_rows(db, feed, source="test")


def test_colour_words_match_the_photo_and_the_feed_colour(db: Database) -> None:
    """Issue #14 item 8: "red jacket" finds the red jacket whose title never says red."""
    _add(
        db,
        ("j1", "Stellar Solar Jacket", "Women/Tops/Jackets", {"photo_colour": "red"}),
        ("j2", "Montana Wind Jacket", "Men/Tops/Jackets", {"photo_colour": "black"}),
        ("j3", "Storm anorak", "Outerwear", {"color": "Dark Red"}),
        ("j4", "Nora Practice Tank", "Tanks", {"photo_colour": "red"}),
    )
    assert sorted(ids(db, "red jacket")) == ["j1", "j3"]  # a jacket search also finds parkas
    assert sorted(ids(db, "赤 ジャケット")) == ["j1", "j3"]
    assert ids(db, "black jacket") == ["j2"]
    assert "p1" in ids(db, "black")  # the title's word still counts ("Slim black trousers")
    assert sorted(ids(db, "red")) == ["j1", "j3", "j4"]


def test_near_synonyms_find_the_broader_garment_one_way(db: Database) -> None:
    """Issue #14 item 8: "coat" finds jackets and "sneakers" shoes; not the other way round."""
    _add(
        db,
        ("j1", "Stellar Solar Jacket", "Women/Tops/Jackets", {}),
        ("c1", "Wool overcoat", "Coats", {}),
        ("s1", "Second-hand shoes", "Shoes", {}),
    )
    assert sorted(ids(db, "coat")) == ["c1", "j1"]
    assert ids(db, "jacket") == ["j1"]  # a jacket search does not list every coat
    assert sorted(ids(db, "sneakers")) == ["p6", "s1"]
    assert sorted(ids(db, "スニーカー")) == ["p6", "s1"]


def test_synonyms_file_colours_and_also_are_checked(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups: []\nalso: [coat]\n")
    with pytest.raises(ConfigError, match="also"):
        load_synonyms(bad)
    good = tmp_path / "mine.yaml"
    good.write_text(
        "groups: [[gilet, bodywarmer]]\ncolours: [[teal, ティール]]\nalso: {gilet: [vest top]}\n"
    )
    syn = load_synonyms(good)
    assert syn.colour(syn.expand("ティール")) == "blue"  # joined the shipped blue group
    assert "vest top" in syn.expand("bodywarmer")


def test_sort_by_price_and_facet_counts(db: Database) -> None:
    """Issue #14 item 17: sorted by price either way; counts per category, gender, seller."""
    with db.session() as session:
        search = TextSearch(load_synonyms())
        by = {
            s: [h.product["external_id"] for h in search.search(session, "dress", sort=s).hits]
            for s in ("relevance", "price_asc", "price_desc")
        }
        res = search.search(session, "dress", facets=True)
        bare = search.search(session, "dress")
        with pytest.raises(ConfigError, match="sort"):
            search.search(session, "dress", sort="cheapest")
    assert sorted(by["relevance"]) == ["p3", "p5"]
    assert by["price_asc"] == ["p5", "p3"] and by["price_desc"] == ["p3", "p5"]  # 35 and 55
    assert res.facets["category"] == [("Dresses", 1), ("ワンピース", 1)]
    assert res.facets["gender"] == [("women", 2)]
    assert res.facets["seller"] == [("shop-a", 1), ("shop-b", 1)]
    assert bare.facets == {}  # counted only when asked
