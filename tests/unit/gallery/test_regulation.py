from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modiste.errors import ConfigError, NotFoundError
from modiste.gallery.regulation import (
    Regulation,
    category_matches,
    list_regulations,
    load_regulation,
    resolve_regulation,
)
from modiste.gallery.taxonomy import load_taxonomy


def reg(**kw: Any) -> Regulation:
    return Regulation.from_dict({"name": "t", "order": ["near_front"], **kw})


def test_shipped_regulations_load_and_validate() -> None:
    regs = {r.name: r for r in list_regulations()}
    assert {"default", "marketplace-strict", "flat-first"} <= set(regs)
    default = load_regulation()
    assert default.name == "default"
    assert default.rules.order[:7] == (
        "far_front", "near_front", "far_side", "near_side", "far_back", "near_back", "near_zoom"
    )  # fmt: skip
    assert default.rules.pin_last == ("size_chart",)
    assert default.rules.promote is not None and default.rules.promote.labels == ("packshot",)
    assert "near_front" in default.rules.promote.unless_any
    strict = regs["marketplace-strict"].rules
    assert strict.max_images == 8
    assert "size_chart" in strict.exclude
    assert set(strict.required) == {"near_front", "wash_tag"}


def test_to_yaml_round_trips() -> None:
    for original in list_regulations():
        again = Regulation.from_dict(yaml.safe_load(original.to_yaml()))
        assert again == original
        assert again.to_dict() == original.to_dict()


def test_category_override_merges_over_base_and_first_match_wins() -> None:
    r = reg(
        max_images=5,
        categories=[
            {"match": "Gear/Bags", "pin_first": ["packshot"]},
            {"match": ["gear/*"], "max_images": 2},
        ],
    )
    bags, pattern = r.rules_for("Gear/Bags/Totes")
    assert pattern == "Gear/Bags"
    assert (
        bags.pin_first == ("packshot",) and bags.max_images == 5 and bags.order == ("near_front",)
    )
    other, pattern = r.rules_for("Gear/Watches")
    assert pattern == "gear/*" and other.max_images == 2 and other.pin_first == ()
    assert r.rules_for("Women/Tops") == (r.rules, None)
    assert r.rules_for(None) == (r.rules, None)


@pytest.mark.parametrize(
    ("pattern", "category", "expected"),
    [
        ("Gear/Bags", "Gear/Bags", True),
        ("Gear/Bags", "gear / bags / Totes", True),
        ("Gear/Bags", "Gear/Bagsy", False),
        ("Gear", "Gear/Bags", True),
        ("*/Jackets", "Women/Tops/Jackets", True),
        ("*/Bags", "Gear/Bags/Totes", True),
        ("Women*", "Women/Tops", True),
        ("Women > Tops", "Women/Tops/Tees", True),
        ("Men", "Women/Tops", False),
        ("Tops", "Women/Tops", False),
    ],
)
def test_category_matching(pattern: str, category: str, expected: bool) -> None:
    assert category_matches(pattern, category) is expected


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"order": ["near_frnt"]}, "unknown shot class(es) near_frnt; valid: brand_tag"),
        ({"exclude": ["nope"]}, "exclude: unknown shot class(es) nope"),
        ({"max_image": 3}, "unknown key(s) max_image"),
        ({"max_images": 0}, "positive whole number"),
        ({"max_images": True}, "positive whole number"),
        ({"tie_break": ["price"]}, "tie_break takes confidence, position"),
        ({"pin_first": ["hem"], "pin_last": ["hem"]}, "both pin_first and pin_last"),
        ({"exclude": ["hem"], "required": ["hem"]}, "both exclude and required"),
        ({"order": ["hem", "hem"]}, "lists hem more than once"),
        ({"required": ["hem", "collar"], "max_images": 1}, "cannot fit in max_images=1"),
        ({"promote": {"labels": ["packshot"]}}, "unless_any"),
        ({"promote": {"labels": ["packshot"], "unless_any": "robots"}}, "robots"),
        (
            {"promote": {"labels": ["packshot"], "unless_any": "model"}, "exclude": ["packshot"]},
            "promoted class cannot also be excluded",
        ),
        ({"categories": [{"pin_first": ["hem"]}]}, "'match' must be"),
        ({"categories": [{"match": 5}]}, "'match' must be"),
        ({"order": []}, "'order' is empty"),
        ({"promote": {"labels": [], "unless_any": "model"}}, "at least one class"),
        ({"categories": [{"match": {"a": "b"}}]}, "'match' must be"),
        ({"categories": [{"match": "Gear", "order": ["nope"]}]}, "category #1 (Gear): order"),
        ({"categories": {"Gear": {}}}, "must be a list"),
        ({"order": "near_front", "name": "bad name!"}, "'name' must be"),
    ],
)
def test_invalid_regulations_raise_config_error(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        Regulation.from_dict({"name": "t", "order": ["near_front"], **data})
    assert problem in str(err.value)


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("order: [near_front]\norder: [packshot]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="key 'order' is given twice"):
        load_regulation(path)


def test_order_is_required_and_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("description: no order\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"'mine' \({path}\).*'order'"):
        load_regulation(path)


def test_user_classes_are_valid_in_regulations(tmp_path: Path) -> None:
    tax_file = tmp_path / "tax.yaml"
    tax_file.write_text("classes: {swatch: {group: detail, description: A swatch.}}\n")
    data = {"name": "t", "order": ["swatch", "near_front"]}
    with pytest.raises(ConfigError, match="swatch"):
        Regulation.from_dict(data)
    assert Regulation.from_dict(data, load_taxonomy(tax_file)).rules.order[0] == "swatch"


def test_user_folder_replaces_shipped_by_name_and_resolve(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("name: default\norder: [packshot]\n")
    (tmp_path / "mine.yml").write_text("order: [hem]\n")  # name from the file stem
    regs = {r.name: r for r in list_regulations([tmp_path])}
    assert regs["default"].rules.order == ("packshot",)
    assert regs["mine"].rules.order == ("hem",)
    assert resolve_regulation("mine", [tmp_path]).rules.order == ("hem",)
    assert resolve_regulation(tmp_path / "mine.yml").name == "mine"
    assert resolve_regulation(None).name == "default"
    with pytest.raises(NotFoundError, match="known names: default, flat-first"):
        resolve_regulation("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        list_regulations([tmp_path / "absent"])
