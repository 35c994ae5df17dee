"""Filter parsing is shared, so a malformed filter fails the same way on every backend."""

from __future__ import annotations

import pytest

from modiste.errors import VectorIndexError
from modiste.index.filters import category_key, in_category, matches, parse_filters


def test_three_shapes_and_list_fields():
    conds = parse_filters({"category": "top", "seller": ["a", "b"], "price": {"gte": 10, "lt": 20}})
    assert [c.kind for c in conds] == ["eq", "any", "range"]
    assert matches({"category": "top", "seller": "b", "price": 10}, conds)
    assert not matches({"category": "top", "seller": "b", "price": 20}, conds)
    assert not matches({"category": "top", "seller": "c", "price": 15}, conds)
    assert not matches({"seller": "a", "price": 15}, conds)  # missing field never matches
    assert matches({"tags": ["red", "silk"]}, parse_filters({"tags": "silk"}))


def test_bools_are_not_numbers():
    assert not matches({"price": True}, parse_filters({"price": {"gte": 0}}))
    assert parse_filters(None) == [] and parse_filters({}) == []


@pytest.mark.parametrize(
    "bad",
    [{"p": {"between": 1}}, {"p": {}}, {"p": {"gte": "1"}}, {"p": 1.5}, {"p": [True]}, {"": 1}],
)
def test_refused(bad):
    with pytest.raises(VectorIndexError):
        parse_filters(bad)


def test_category_paths_match_segment_wise() -> None:
    assert in_category("Men/Tops/Jackets", "men / tops")
    assert in_category("Apparel > Clothing > Outerwear", "Apparel/Clothing")
    assert not in_category("Women/Tops/Jackets", "Men/Tops/Jackets")  # was a substring match
    assert not in_category("Men/Topshop", "Men/Top")
    assert not in_category(None, "Men") and in_category(None, None) and in_category("x", "/")
    assert category_key(" Men > Tops/ Bras & Tanks/") == "men/tops/bras&tanks"
