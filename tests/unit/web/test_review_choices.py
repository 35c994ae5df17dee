"""Gallery review's shot list: words, grouped and ordered as a person scans (issue #14 item 17)."""

from __future__ import annotations

from modiste.gallery.taxonomy import UNKNOWN, load_taxonomy
from modiste.web.labels import review_choices


def test_shot_types_in_words_grouped_by_the_taxonomy() -> None:
    taxonomy = load_taxonomy()
    labels = [*taxonomy.labels, UNKNOWN]
    choices = review_choices(taxonomy.groups, dict(taxonomy.group_descriptions), labels)
    titles = [title for title, _ in choices]
    assert titles == ["Model shots", "Garment shots", "Detail shots", "Labels and charts", "Other"]
    model = dict(choices)["Model shots"]
    assert model[:3] == [
        ("near_front", "Front, waist up"),
        ("near_back", "Back, waist up"),
        ("near_side", "Side, waist up"),
    ]
    assert dict(choices)["Other"] == [(UNKNOWN, "Not sure (unknown)")]
    offered = [value for _, items in choices for value, _ in items]
    assert sorted(offered) == sorted(labels)  # every label once, none invented


def test_a_users_own_class_gets_words_from_its_id() -> None:
    choices = review_choices(
        {"garment": ["packshot", "ghost_back"]}, {}, ["packshot", "ghost_back"]
    )
    assert choices == [("garment", [("packshot", "Product alone"), ("ghost_back", "Ghost back")])]
