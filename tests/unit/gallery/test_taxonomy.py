from __future__ import annotations

from pathlib import Path

import pytest

from modiste.errors import ConfigError
from modiste.gallery.taxonomy import UNKNOWN, load_taxonomy

STUDY = [
    "brand_tag",
    "material",
    "print",
    "wash_tag",
    "sleeve",
    "sleeve_hem",
    "hem",
    "feature",
    "collar",
    "back",
    "far_back",
    "far_front",
    "far_side",
    "near_back",
    "near_front",
    "near_side",
    "near_zoom",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_has_the_study_classes_first_then_the_extras() -> None:
    tax = load_taxonomy()
    assert tax.labels == [*STUDY, "flat_front", "packshot", "size_chart"]
    assert tax.extras == ["flat_front", "packshot", "size_chart"]
    assert set(tax.groups) == {"model", "garment", "detail", "label"}
    assert tax.groups["model"] == [
        "far_back", "far_front", "far_side", "near_back", "near_front", "near_side", "near_zoom"
    ]  # fmt: skip
    assert sum(len(v) for v in tax.groups.values()) == len(tax.labels)
    for label in tax.labels:
        text = tax.describe(label)
        assert text and "\n" not in text
    assert "unsure" in tax.describe(UNKNOWN) or "confident" in tax.describe(UNKNOWN)


def test_user_file_adds_classes_and_groups_and_redescribes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
groups:
  styling: Styled scenes.
classes:
  lookbook: {group: styling, description: "The garment in a styled outdoor scene."}
  swatch: {group: detail, description: "A colour swatch."}
  packshot: {description: "Product alone on white, our studio style."}
""",
    )
    tax = load_taxonomy(path)
    assert tax.labels[:20] == load_taxonomy().labels  # default order stays stable
    assert tax.labels[20:] == ["lookbook", "swatch"]
    assert tax.extras[-2:] == ["lookbook", "swatch"]
    assert tax.groups["styling"] == ["lookbook"]
    assert tax.describe("packshot") == "Product alone on white, our studio style."
    assert tax.group_of("packshot") == "garment"
    assert tax.get("swatch").origin == str(path)
    assert tax.sources[-1] == path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("classes: {new: {group: nowhere, description: x}}", "unknown group 'nowhere'"),
        ("classes: {new: {group: detail}}", "needs both a group and a description"),
        ("classes: {Bad-Name: {group: detail, description: x}}", "lower_snake_case"),
        ("classes: {unknown: {group: detail, description: x}}", "reserved"),
        ("classes: {new: {group: detail, description: x, colour: red}}", "unknown key(s) colour"),
        ("classes: {new: {group: detail, description: ''}}", "one non-empty line"),
        ("classes: [a, b]", "'classes' must map"),
        ("colors: {}", "unknown key(s) colors"),
        ("classes: {new: {group: detail, description: x, study: true}}", "only set by the shipped"),
        ("- a list\n- at the top", "expected a mapping"),
        ("classes: {a: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_user_files_raise_config_error_naming_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_expand_lists_valid_names_on_a_typo() -> None:
    tax = load_taxonomy()
    assert tax.expand(["model"], "x", allow_groups=True) == tax.groups["model"]
    assert tax.expand([UNKNOWN, "hem"], "x") == [UNKNOWN, "hem"]
    with pytest.raises(ConfigError, match=r"near_frnt.*valid: brand_tag, material"):
        tax.expand(["near_frnt"], "somewhere")
