"""One gender vocabulary: imports store it, filters and lists read any spelling as it."""

from __future__ import annotations

from sqlalchemy import select, update

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.genders import gender_label, gender_spellings, normalise_gender
from modiste.catalog.importer import import_rows
from modiste.catalog.schema import ProductRow
from modiste.config import Settings
from modiste.search.synonyms import load_synonyms
from modiste.search.text import SearchFilters, TextSearch


def test_spellings_map_to_one_lower_case_vocabulary() -> None:
    for raw in ("Women", "women", "WOMEN'S", "Women’s", " ladies ", "Female", "レディース"):
        assert normalise_gender(raw) == "women", raw
    assert [normalise_gender(g) for g in ("Mens", "male", "Boy's", "Kids", "Unisex")] == [
        "men",
        "men",
        "boys",
        "kids",
        "unisex",
    ]
    assert normalise_gender("Pets ") == "pets" and normalise_gender("  ") is None
    assert normalise_gender(None) is None
    assert gender_label("men") == "Men" and gender_label("Pets") == "Pets"
    assert {"women", "women's", "female"} <= set(gender_spellings("Women"))


def test_import_stores_the_vocabulary_and_keeps_the_feed_spelling(settings: Settings) -> None:
    db = Database(settings)
    db.migrate()
    rows = [
        FeedRow(line=2, external_id="a", title="Rain jacket", gender="Mens"),
        FeedRow(line=3, external_id="b", title="Wool jacket", gender="women"),
        FeedRow(line=4, external_id="c", title="Denim jacket", gender="Women's"),
    ]
    import_rows(db, rows, source="feed")
    with db.session() as s:
        stored = {p.external_id: p for p in s.scalars(select(ProductRow))}
        assert {k: p.gender for k, p in stored.items()} == {"a": "men", "b": "women", "c": "women"}
        assert stored["a"].attributes["gender_raw"] == "Mens"
        assert "gender_raw" not in stored["b"].attributes  # nothing to keep
        # A catalog imported before normalisation (or the categorizer's "Women") still filters.
        s.execute(update(ProductRow).where(ProductRow.external_id == "b").values(gender="Female"))
    with db.session() as s:
        found = TextSearch(load_synonyms()).search(s, "jacket", SearchFilters(gender="Women"))
    assert sorted(h.product["external_id"] for h in found.hits) == ["b", "c"]
    db.dispose()
