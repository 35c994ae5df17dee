"""check_gallery: each rule kind on synthetic photos, the JSON shape, bad images skipped."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from compliance_helpers import StubOcr, encode, photo, with_text

from modiste.compliance.check import check_gallery, report_dict
from modiste.compliance.measure import ImageInput
from modiste.compliance.profiles import Profile, load_profile, profile_from_dict


def _profile(*rules: dict[str, Any], regulation: Any = None) -> Profile:
    data: dict[str, Any] = {"name": "test", "rules": list(rules)}
    if regulation is not None:
        data["regulation"] = regulation
    return profile_from_dict(data)


def _img(key: str, img: np.ndarray, label: str = "packshot", pos: int = 0, **kw: Any) -> ImageInput:
    return ImageInput(key, data=encode(img, **kw), label=label, confidence=0.9, position=pos)


def _rules(report: Any) -> dict[str, list[str]]:
    return {i.image: [v.rule for v in i.violations] for i in report.images}


def test_clean_amazon_main_image_passes_the_pixel_rules() -> None:
    good = _img("a.jpg", photo(size=(1200, 1500), product=(0.05, 0.04, 0.95, 0.96)), "near_front")
    report = check_gallery(load_profile("amazon"), [good], ocr=StubOcr())
    assert _rules(report) == {"a.jpg": []}
    assert report.ok and report.order == ["a.jpg"]


def test_background_fill_and_size_violations_carry_figures() -> None:
    img = photo(size=(600, 800), product=(0.35, 0.3, 0.65, 0.6), bg=(210, 210, 215))
    bad = _img("a.png", img, fmt="PNG")
    report = check_gallery(load_profile("amazon"), [bad], ocr=StubOcr())
    by_rule = {v.rule: v for v in report.images[0].violations}
    assert set(by_rule) == {"main-white-background", "main-fill", "min-size"}
    assert by_rule["main-white-background"].measured["color"] == "#D2D2D7"
    assert by_rule["main-white-background"].limit["color"] == "#FFFFFF"
    assert by_rule["main-fill"].measured == pytest.approx(0.3, abs=0.02)
    assert by_rule["main-fill"].limit == {"min": 0.85}
    assert by_rule["min-size"].measured == {"width": 600, "height": 800}


def test_main_only_rules_skip_the_other_images() -> None:
    small = photo(product=(0.35, 0.3, 0.65, 0.6))
    report = check_gallery(
        _profile({"id": "fill", "kind": "fill", "applies_to": "main", "min": 0.8}),
        [_img("front.jpg", photo(), "near_front", 0), _img("back.jpg", small, "near_back", 1)],
    )
    assert _rules(report) == {"front.jpg": [], "back.jpg": []}


def test_rule_for_one_shot_class() -> None:
    small = photo(product=(0.35, 0.3, 0.65, 0.6))
    profile = _profile({"id": "f", "kind": "fill", "applies_to": "near_back", "min": 0.8})
    report = check_gallery(
        profile, [_img("a.jpg", small, "near_front", 0), _img("b.jpg", small, "near_back", 1)]
    )
    assert _rules(report) == {"a.jpg": [], "b.jpg": ["f"]}


def test_aspect_bytes_and_format() -> None:
    profile = _profile(
        {"id": "ratio", "kind": "aspect", "ratio": "1:1.44", "tolerance": 0.02},
        {"id": "bytes", "kind": "max_bytes", "bytes": 5000},
        {"id": "fmt", "kind": "format", "allowed": ["jpeg"]},
    )
    portrait = _img("p.jpg", photo(size=(500, 720)))
    square_png = _img("s.png", photo(size=(500, 500)), fmt="PNG")
    report = check_gallery(profile, [portrait, square_png])
    assert _rules(report)["s.png"] == ["ratio", "bytes", "fmt"]
    assert "ratio" not in _rules(report)["p.jpg"]
    fmt = report.images[1].violations[2]
    assert (fmt.measured, fmt.limit) == ("png", ["jpeg"])


def test_overlay_text_is_a_violation_printed_text_is_not() -> None:
    profile = _profile({"id": "txt", "kind": "text", "applies_to": "all"})
    badge, box = with_text(photo(product=(0.3, 0.3, 0.9, 0.9)), "-30%", (0.03, 0.03), 0.08)
    printed = photo(product=(0.1, 0.1, 0.9, 0.9))
    ocr = StubOcr([("-30%", box), ("NYC", (0.4, 0.4, 0.6, 0.45))])
    report = check_gallery(
        profile, [_img("badge.jpg", badge, pos=0), _img("shirt.jpg", printed, pos=1)], ocr=ocr
    )
    assert _rules(report) == {"badge.jpg": ["txt"], "shirt.jpg": []}
    assert report.images[0].violations[0].measured == ["-30%"]


def test_unread_overlay_text_is_reported_by_where_it_lies() -> None:
    """A detection-only reader gives boxes, not words: the message says where to look."""
    profile = _profile({"id": "txt", "kind": "text", "applies_to": "all"})
    badge, box = with_text(photo(product=(0.3, 0.3, 0.9, 0.9)), "-30%", (0.03, 0.03), 0.08)
    report = check_gallery(profile, [_img("badge.jpg", badge)], ocr=StubOcr([("", box)]))
    (v,) = report.images[0].violations
    assert v.message == "overlay text outside the product: 1 text line, top left"
    # the count is estimated from the box's shape (4 glyphs in a tight box: about 5)
    assert v.measured == ["about 5 characters: 1 text line, top left"]


def test_text_rule_without_ocr_is_reported_as_not_checked() -> None:
    profile = _profile({"id": "txt", "kind": "text"})
    badge, _ = with_text(photo(product=(0.3, 0.3, 0.9, 0.9)), "SALE", (0.03, 0.03), 0.08)
    report = check_gallery(profile, [_img("a.jpg", badge)], ocr=None)
    image = report.to_dict()["images"][0]
    assert image["violations"] == []
    assert image["skipped"][0]["rule"] == "txt"
    assert "OCR" in image["skipped"][0]["message"]


def test_duplicate_photo_in_a_gallery() -> None:
    profile = _profile({"id": "dup", "kind": "duplicate"})
    a = photo(seed=1)
    copy = encode(a, quality=70)
    other = photo(seed=2, product=(0.3, 0.1, 0.7, 0.9))
    images = [
        _img("1.jpg", a, pos=0),
        _img("2.jpg", other, pos=1),
        ImageInput("3.jpg", data=copy, label="packshot", position=2),
    ]
    report = check_gallery(profile, images)
    assert _rules(report) == {"1.jpg": [], "2.jpg": [], "3.jpg": ["dup"]}
    assert report.images[2].violations[0].measured["same_as"] == "1.jpg"


def test_gallery_rules_required_main_and_max() -> None:
    profile = _profile(
        {"id": "views", "kind": "required_shot", "shots": [["near_front", "flat_front"], "back"]},
        {"id": "lead", "kind": "main_shot", "allowed": ["near_front"]},
        {"id": "max", "kind": "max_images", "max": 2},
    )
    images = [_img(f"{i}.jpg", photo(seed=i), "wash_tag", i) for i in range(3)]
    report = check_gallery(profile, images)
    rules = {v.rule: v for v in report.violations}
    assert set(rules) == {"views", "lead", "max"}
    assert "near_front or flat_front" in rules["views"].message
    assert (rules["max"].measured, rules["max"].limit) == (3, 2)
    assert rules["lead"].measured == "wash_tag"


def test_main_image_is_the_one_the_profile_puts_first() -> None:
    profile = _profile({"id": "lead", "kind": "main_shot", "allowed": ["near_front"]})
    images = [_img("back.jpg", photo(seed=1), "near_back", 0),
              _img("front.jpg", photo(seed=2), "near_front", 1)]  # fmt: skip
    report = check_gallery(profile, images)
    assert report.ok
    assert report.order[0] == "front.jpg"


def test_bad_image_is_reported_and_skipped() -> None:
    profile = _profile({"id": "fmt", "kind": "format", "allowed": ["jpeg"]})
    images = [ImageInput("broken.jpg", data=b"\xff\xd8 nope"), _img("ok.jpg", photo(), pos=1)]
    report = check_gallery(profile, images, product="p1")
    out = report_dict(profile, [report])
    assert out["profile"] == "test"
    product = out["products"][0]
    assert product["product"] == "p1"
    assert [i["image"] for i in product["images"]] == ["ok.jpg"]
    assert product["errors"][0]["image"] == "broken.jpg"


def test_json_shape_matches_the_issue() -> None:
    bad = _img("a.jpg", photo(size=(300, 300)), "near_front")
    report = check_gallery(load_profile("amazon"), [bad], product="p", ocr=StubOcr())
    doc = report_dict(load_profile("amazon"), [report])
    assert set(doc) == {"profile", "products"}
    product = doc["products"][0]
    assert {"product", "violations", "images"} <= set(product)
    violation = product["images"][0]["violations"][0]
    assert set(violation) == {"rule", "message", "measured", "limit"}
