"""The search page's filter lists: each category once, with the levels above it."""

from __future__ import annotations

from modiste.web.facets import category_options, gender_options


def test_categories_are_listed_once_with_their_parents() -> None:
    options = category_options(["Men/Tops/Jackets", "men/tops/jackets", "Pants", "Men > Bottoms"])
    assert [o.value for o in options] == [
        "Men",
        "Men/Bottoms",
        "Men/Tops",
        "Men/Tops/Jackets",
        "Pants",
    ]
    assert options[3].label == "Men › Tops › Jackets" and options[3].depth == 2


def test_genders_are_listed_once_with_human_labels() -> None:
    options = gender_options(["Men", "men", "women", "Women", "Pets", "Unisex", ""])
    assert [(o.value, o.label) for o in options] == [
        ("women", "Women"),
        ("men", "Men"),
        ("unisex", "Unisex"),
        ("pets", "Pets"),
    ]
