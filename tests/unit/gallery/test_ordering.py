from __future__ import annotations

import random
from typing import Any

import pytest

from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.regulation import Regulation, load_regulation, resolve_regulation


def items(*labels: str, conf: float = 0.9) -> list[GalleryItem]:
    return [GalleryItem(f"img{i}", label, conf, i) for i, label in enumerate(labels)]


def labels_of(gallery: Any) -> list[str]:
    return [o.item.label for o in gallery.items]


def reg(**kw: Any) -> Regulation:
    return Regulation.from_dict({"name": "t", **kw})


def test_default_order_model_front_side_back_then_garment_then_labels() -> None:
    shuffled = ["size_chart", "wash_tag", "near_back", "collar", "flat_front", "near_zoom",
                "far_side", "brand_tag", "near_front", "far_front", "back"]  # fmt: skip
    g = order_gallery(items(*shuffled), load_regulation())
    expected = ["far_front", "near_front", "far_side", "near_back", "near_zoom",
                "flat_front", "back", "collar", "brand_tag", "wash_tag", "size_chart"]  # fmt: skip
    assert labels_of(g) == expected
    assert [o.rank for o in g.items] == list(range(1, 12))
    assert g.excluded == [] and g.missing == []
    assert "pinned last" in g.items[-1].reason


def test_packshot_leads_without_model_shots_and_follows_them_otherwise() -> None:
    default = load_regulation()
    alone = order_gallery(items("wash_tag", "flat_front", "packshot"), default)
    assert labels_of(alone) == ["packshot", "flat_front", "wash_tag"]
    assert "no model shot" in alone.items[0].reason
    worn = order_gallery(items("packshot", "near_zoom", "near_front"), default)
    assert labels_of(worn) == ["near_front", "near_zoom", "packshot"]
    assert "class 8" in worn.items[2].reason


def test_bags_override_pins_packshot_first_even_with_a_model_shot() -> None:
    g = order_gallery(items("near_front", "packshot"), load_regulation(), "Gear/Bags")
    assert labels_of(g) == ["packshot", "near_front"]
    assert g.override == "Gear/Bags"
    assert "pinned first by default [Gear/Bags]" in g.items[0].reason
    tops = order_gallery(items("near_front", "packshot"), load_regulation(), "Men/Tops")
    assert labels_of(tops) == ["near_front", "packshot"]


def test_pins_first_and_last_beat_the_order() -> None:
    r = reg(order=["near_front", "hem", "collar"], pin_first=["collar"], pin_last=["near_front"])
    g = order_gallery(items("near_front", "hem", "collar", "print"), r)
    assert labels_of(g) == ["collar", "hem", "print", "near_front"]


def test_unknown_and_unlisted_labels_go_after_listed_in_original_order() -> None:
    r = reg(order=["near_front", "hem"])
    g = order_gallery(
        [
            GalleryItem("a", "unknown", 0.1, 0),
            GalleryItem("b", "hem", 0.9, 1),
            GalleryItem("c", "print", 0.99, 2),
            GalleryItem("d", "unknown", 0.9, 3),
            GalleryItem("e", "near_front", 0.5, 4),
        ],
        r,
    )
    assert g.keys == ["e", "b", "a", "c", "d"]  # confidence ignored among unlisted
    assert "not in the order of t" in g.items[2].reason
    assert "classifier was unsure" in g.items[2].reason


def test_tie_break_confidence_then_position_or_position_only() -> None:
    gallery = [
        GalleryItem("low", "near_front", 0.6, 0),
        GalleryItem("high", "near_front", 0.9, 1),
        GalleryItem("high-later", "near_front", 0.9, 2),
    ]
    by_conf = order_gallery(gallery, reg(order=["near_front"]))
    assert by_conf.keys == ["high", "high-later", "low"]
    assert "1 of 3 near_front images by confidence (0.90) then original position" in (
        by_conf.items[0].reason
    )
    by_pos = order_gallery(gallery, reg(order=["near_front"], tie_break=["position"]))
    assert by_pos.keys == ["low", "high", "high-later"]


def test_exclusion_reports_why() -> None:
    r = reg(order=["near_front"], exclude=["size_chart", "unknown"])
    g = order_gallery(items("size_chart", "near_front", "unknown"), r)
    assert labels_of(g) == ["near_front"]
    assert [(e.item.label, e.reason) for e in g.excluded] == [
        ("size_chart", "size_chart is excluded by t"),
        ("unknown", "unknown is excluded by t"),
    ]


def test_max_images_keeps_the_best_ranked_and_room_for_required() -> None:
    strict = resolve_regulation("marketplace-strict")
    photos = items(*(["near_back"] * 9), "wash_tag", "near_front")
    g = order_gallery(photos, strict)
    assert len(g.items) == 8
    assert labels_of(g)[0] == "near_front" and labels_of(g)[-1] == "wash_tag"
    assert "kept within max_images=8 because wash_tag is required" in g.items[-1].reason
    assert len(g.excluded) == 3
    assert all("beyond max_images=8" in e.reason for e in g.excluded)
    assert sum("to make room for required wash_tag" in e.reason for e in g.excluded) == 1
    assert g.missing == []


def test_missing_required_shots_are_reported() -> None:
    g = order_gallery(items("near_back", "hem"), resolve_regulation("marketplace-strict"))
    assert g.missing == ["near_front", "wash_tag"]
    assert g.missing_reasons[1] == "no wash_tag photo (required by marketplace-strict)"
    bags = order_gallery(items("near_back"), resolve_regulation("marketplace-strict"), "Gear/Bags")
    assert bags.missing == ["packshot"]


def test_stable_and_invariant_to_input_order() -> None:
    rng = random.Random(7)
    labels = ["near_front", "near_front", "hem", "unknown", "wash_tag", "packshot", "near_back"]
    gallery = [
        GalleryItem(f"k{i}", lab, rng.choice([0.5, 0.7, 0.7]), i)
        for i, lab in enumerate(labels * 3)
    ]
    regulation = load_regulation()
    first = order_gallery(gallery, regulation)
    assert order_gallery(gallery, regulation) == first
    for _ in range(20):
        shuffled = gallery[:]
        rng.shuffle(shuffled)
        assert order_gallery(shuffled, regulation).keys == first.keys


@pytest.mark.parametrize("confidence", [float("nan"), float("inf")])
def test_odd_confidences_do_not_break_sorting(confidence: float) -> None:
    g = order_gallery([GalleryItem("a", "hem", confidence, 0), GalleryItem("b", "hem", 0.5, 1)],
                      load_regulation())  # fmt: skip
    assert sorted(g.keys) == ["a", "b"]


def test_empty_gallery_and_to_dict() -> None:
    g = order_gallery([], resolve_regulation("marketplace-strict"))
    assert g.items == [] and g.missing == ["near_front", "wash_tag"]
    d = order_gallery(items("hem", "size_chart"), load_regulation(), "Women/Tops").to_dict()
    assert d["regulation"] == "default" and d["category"] == "Women/Tops" and d["override"] is None
    assert [i["key"] for i in d["items"]] == ["img0", "img1"]
    assert set(d["items"][0]) == {"rank", "key", "label", "confidence", "position", "reason"}
