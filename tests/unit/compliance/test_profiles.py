"""Profiles: shipped ones load, user ones replace them, and a bad file names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from modiste.compliance.profiles import (
    list_profiles,
    load_profile,
    parse_ratio,
    profile_from_dict,
)
from modiste.config import Settings
from modiste.errors import ConfigError, NotFoundError

SHIPPED = ["aboutyou", "ajio", "amazon", "zalando", "zalora"]


def test_every_shipped_profile_loads_and_names_its_source() -> None:
    assert list_profiles() == SHIPPED
    for name in SHIPPED:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.source  # where the channel publishes the rules
        assert profile.rules


def test_amazon_numbers_come_from_the_yaml() -> None:
    amazon = load_profile("amazon")
    assert amazon.rule("main-white-background").params["color"] == (255, 255, 255)
    assert amazon.rule("main-fill").params["min"] == 0.85
    assert amazon.rule("min-size").params["long_side"] == 1000
    assert amazon.rule("main-no-text").applies_to == "main"


def test_ratios_are_width_over_height() -> None:
    assert parse_ratio("1:1.44", "x") == pytest.approx(1 / 1.44)
    assert load_profile("ajio").rule("portrait-aspect").params["ratio"] == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="ratio"):
        parse_ratio("wide", "x")


def test_embedded_regulation_and_alternatives(settings: Settings) -> None:
    ajio = load_profile("ajio", settings)
    assert ajio.regulation.name == "ajio"
    views = ajio.rule("views-required").params["shots"]
    assert ["near_back", "far_back", "back"] in views
    assert "material" in views[3]  # the 'detail' group expanded


def test_user_profile_replaces_shipped_one(settings: Settings) -> None:
    settings.profiles_dir.mkdir(parents=True)
    (settings.profiles_dir / "amazon.yaml").write_text(
        "name: amazon\nsource: our contract\nrules:\n"
        "  - {id: tiny, kind: min_size, long_side: 10}\n",
        encoding="utf-8",
    )
    (settings.profiles_dir / "ours.yaml").write_text(
        "rules: [{id: jpeg-only, kind: format, allowed: [jpeg]}]\n", encoding="utf-8"
    )
    assert list_profiles(settings) == sorted([*SHIPPED, "ours"])
    assert [r.id for r in load_profile("amazon", settings).rules] == ["tiny"]
    assert load_profile("ours", settings).name == "ours"  # name from the file
    assert len(load_profile("amazon").rules) > 1  # without settings: the shipped one


def test_profile_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("rules: [{id: small, kind: max_bytes, bytes: 1000}]\n", encoding="utf-8")
    assert load_profile(path).rule("small").params["bytes"] == 1000


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="amazon"):
        load_profile("ebay")


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ("[{id: a, kind: colour}]", "'kind' must be one of"),
        ("[{id: a, kind: fill}]", "needs 'min', 'max'"),
        ("[{id: a, kind: fill, min: 1.5}]", "'min' must be a number from 0 to 1"),
        ("[{id: a, kind: fill, min: 0.9, max: 0.8}]", "'min' is above 'max'"),
        ("[{id: a, kind: background, color: blue}]", "'color' must be"),
        ("[{id: a, kind: aspect}]", "needs 'ratio'"),
        ("[{id: a, kind: format, allowed: [heic]}]", "'allowed' takes formats"),
        ("[{id: a, kind: min_size, long_side: 10, colour: 1}]", "unknown key"),
        ("[{id: a, kind: text, applies_to: hat}]", "unknown shot class"),
        ("[{id: a, kind: main_shot, allowed: [front]}]", "unknown shot class"),
        ("[{id: a, kind: max_images, max: 3, applies_to: main}]", "drop 'applies_to'"),
        ("[{id: a, kind: duplicate}, {id: a, kind: duplicate}]", "more than once"),
        ("{id: a}", "'rules' must be a list"),
    ],
)
def test_bad_rules_name_file_and_field(tmp_path: Path, rules: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nrules: {rules}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_bad_yaml_and_unknown_top_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(path)
    with pytest.raises(ConfigError, match="unknown key"):
        profile_from_dict({"name": "x", "rule": []})


def test_unknown_regulation_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="regulation"):
        profile_from_dict({"name": "x", "regulation": "nope"})
