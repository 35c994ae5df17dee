"""Safe fixes: background added or trimmed, the product's pixels never touched, never upscaled."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from modiste.compliance.fixes import (
    NEW_PHOTO,
    RETOUCH,
    FixTarget,
    fix_image,
    needs_person,
    product_box,
    target_for,
)
from modiste.compliance.profiles import profile_from_dict
from modiste.imaging.decode import decode_image

WHITE = (255, 255, 255)


def _product(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A busy, saturated patch: no pixel of it is near white, so it is all product."""
    rng = np.random.default_rng(seed)
    return rng.integers(20, 200, size=(h, w, 3), dtype=np.uint8)


def _photo(
    size: tuple[int, int], product: np.ndarray, at: tuple[int, int], bg: tuple[int, ...] = WHITE
) -> np.ndarray:
    canvas = np.empty((size[1], size[0], 3), dtype=np.uint8)
    canvas[:] = bg
    ph, pw = product.shape[:2]
    canvas[at[1] : at[1] + ph, at[0] : at[0] + pw] = product
    return canvas


def _encode(arr: np.ndarray, fmt: str = "PNG", **kw: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(decode_image(data).image)


def _find(out: np.ndarray, product: np.ndarray) -> np.ndarray:
    """The product's region in ``out``, located by the strict box of non-white pixels."""
    box = product_box(out, WHITE, 8)
    assert box is not None
    x0, y0, x1, y1 = box
    assert (x1 - x0, y1 - y0) == (product.shape[1], product.shape[0])  # same size: no resampling
    return out[y0:y1, x0:x1]


def test_pads_to_the_aspect_ratio_on_white_and_keeps_every_product_pixel() -> None:
    product = _product(300, 300)
    data = _encode(_photo((400, 400), product, (50, 50)))
    fixed = fix_image(data, FixTarget(aspect=1 / 1.44, background=WHITE, formats=("png",)))
    assert fixed.format == "PNG"
    assert (fixed.width, fixed.height) == (400, 576)
    assert [f.rule for f in fixed.fixes] == ["aspect"]
    out = _pixels(fixed.data)
    assert np.array_equal(_find(out, product), product)  # pixel-exact
    assert int(out.sum()) - int(product.sum()) == 255 * 3 * (400 * 576 - 300 * 300)  # rest white
    assert fixed.needs == []


def test_trims_background_to_reach_the_fill_and_removes_only_background() -> None:
    product = _product(100, 150)
    original = _photo((600, 600), product, (120, 300))
    fixed = fix_image(_encode(original), FixTarget(fill_min=0.85, background=WHITE))
    out = _pixels(fixed.data)
    assert np.array_equal(_find(out, product), product)
    assert fixed.width <= 600 and fixed.height <= 600  # trimmed, nothing added
    assert 0.85 <= max(100 / fixed.width, 150 / fixed.height) <= 0.9
    assert [f.rule for f in fixed.fixes] == ["fill"]
    assert "trimmed" in fixed.fixes[0].action
    # what went was background: the same white sum minus the kept white
    removed_white = original.sum(dtype=np.int64) - out.sum(dtype=np.int64)
    assert removed_white == 255 * 3 * (600 * 600 - fixed.width * fixed.height)


def test_pads_a_product_that_fills_too_much_and_frames_it_to_the_aspect() -> None:
    product = _product(380, 380)
    data = _encode(_photo((400, 400), product, (10, 10)))
    target = FixTarget(fill_min=0.8, fill_max=0.85, aspect=1 / 1.25, background=WHITE)
    fixed = fix_image(data, target)
    out = _pixels(fixed.data)
    assert np.array_equal(_find(out, product), product)
    assert abs(fixed.width / fixed.height - 1 / 1.25) <= 0.01 / 1.25
    assert 0.8 <= max(380 / fixed.width, 380 / fixed.height) <= 0.85
    assert {f.rule for f in fixed.fixes} == {"fill", "aspect"}


def test_jpeg_output_keeps_the_product_within_jpeg_tolerance() -> None:
    product = np.full((200, 160, 3), (30, 90, 160), dtype=np.uint8)
    product[40:160, 30:130] = (180, 40, 40)  # a print on the garment
    data = _encode(_photo((300, 300), product, (70, 50)), "JPEG", quality=95)
    fixed = fix_image(data, FixTarget(aspect=1 / 1.44, background=WHITE, background_tolerance=12))
    assert fixed.format == "JPEG"
    out = _pixels(fixed.data)
    # the product's place: the original's box shifted by the padding
    top = (fixed.height - 300) // 2
    region = out[top + 50 : top + 250, 70:230].astype(int)
    assert np.abs(region - product.astype(int)).mean() < 3
    assert fixed.width == 300  # padded, not resampled


def test_never_upscales_a_small_photo_to_reach_the_minimum_size() -> None:
    product = _product(280, 280)
    data = _encode(_photo((300, 300), product, (10, 10)))
    fixed = fix_image(data, FixTarget(fill_min=0.85, min_long_side=1000, background=WHITE))
    assert fixed.width <= 330 and fixed.height <= 330
    assert np.array_equal(_find(_pixels(fixed.data), product), product)
    assert [n.rule for n in fixed.needs] == ["min_size"]
    assert fixed.needs[0].action == NEW_PHOTO


def test_pads_to_the_minimum_size_while_the_fill_still_holds() -> None:
    product = _product(900, 900)
    data = _encode(_photo((920, 920), product, (10, 10)))
    fixed = fix_image(data, FixTarget(fill_min=0.85, min_long_side=1000, background=WHITE))
    assert (fixed.width, fixed.height) == (1000, 1000)  # 900 px of product fill 90 %
    assert np.array_equal(_find(_pixels(fixed.data), product), product)
    assert fixed.needs == []


def test_without_a_fill_rule_a_small_photo_is_not_padded_up_to_the_minimum() -> None:
    data = _encode(_photo((400, 400), _product(300, 300), (50, 50)))
    fixed = fix_image(data, FixTarget(aspect=1.0, min_width=762, min_height=1100))
    assert (fixed.width, fixed.height) == (400, 400)
    assert fixed.data == data  # nothing done
    assert [n.rule for n in fixed.needs] == ["min_size"]


def test_a_coloured_busy_background_needs_a_person_and_nothing_is_changed() -> None:
    rng = np.random.default_rng(3)
    scene = rng.integers(0, 255, size=(300, 300, 3), dtype=np.uint8)  # a street, not a backdrop
    data = _encode(scene)
    fixed = fix_image(data, FixTarget(aspect=1 / 1.44, background=WHITE))
    assert fixed.data == data and fixed.fixes == []
    assert [(n.rule, n.action) for n in fixed.needs] == [("background", RETOUCH)]


def test_a_plain_grey_backdrop_is_extended_in_its_own_colour_without_a_background_rule() -> None:
    grey = (200, 200, 200)
    product = _product(100, 100)
    data = _encode(_photo((200, 200), product, (50, 50), grey))
    fixed = fix_image(data, FixTarget(aspect=0.5))
    out = _pixels(fixed.data)
    assert (fixed.width, fixed.height) == (200, 400)
    assert tuple(out[0, 0]) == grey and tuple(out[-1, -1]) == grey
    assert np.array_equal(out[150:250, 50:150], product)


def test_re_encodes_within_the_byte_limit() -> None:
    noisy = _product(600, 600, seed=7)
    data = _encode(noisy, "JPEG", quality=98)
    limit = len(data) // 2
    fixed = fix_image(data, FixTarget(max_bytes=limit))
    assert len(fixed.data) <= limit
    assert (fixed.width, fixed.height) == (600, 600)  # quality first, size kept
    assert [f.rule for f in fixed.fixes] == ["max_bytes"]
    assert fixed.needs == []


def test_downscales_only_when_allowed_and_never_below_the_minimum() -> None:
    data = _encode(_product(800, 800, seed=9), "JPEG", quality=98)
    limit = 60_000  # out of reach at 800 px even at the lowest quality
    refused = fix_image(data, FixTarget(max_bytes=limit))
    assert (refused.width, refused.height) == (800, 800)
    assert [n.rule for n in refused.needs] == ["max_bytes"]
    allowed = fix_image(data, FixTarget(max_bytes=limit, allow_downscale=True, min_long_side=300))
    assert len(allowed.data) <= limit and allowed.needs == []
    assert 300 <= allowed.width < 800
    floor = fix_image(data, FixTarget(max_bytes=2_000, allow_downscale=True, min_long_side=700))
    assert floor.width >= 700 and [n.rule for n in floor.needs] == ["max_bytes"]


def test_converts_a_format_the_channel_does_not_take() -> None:
    data = _encode(_photo((200, 200), _product(150, 150), (25, 25)), "WEBP", lossless=True)
    fixed = fix_image(data, FixTarget(formats=("jpeg", "png")))
    assert fixed.format == "JPEG" and fixed.suffix == ".jpg"
    assert [f.action for f in fixed.fixes] == ["converted WEBP to JPEG"]
    assert decode_image(fixed.data).format == "JPEG"


def test_a_compliant_photo_is_copied_byte_for_byte() -> None:
    data = _encode(_photo((500, 500), _product(450, 450), (25, 25)), "JPEG", quality=90)
    target = FixTarget(fill_min=0.85, aspect=1.0, background=WHITE, background_tolerance=12,
                       min_long_side=500, max_bytes=10**7, formats=("jpeg",))  # fmt: skip
    fixed = fix_image(data, target)
    assert fixed.data == data and not fixed.changed and fixed.needs == []


@pytest.mark.parametrize(
    ("rule", "action"),
    [("text", RETOUCH), ("background", RETOUCH), ("min_size", NEW_PHOTO)],
)
def test_what_fixes_leave_alone_says_what_a_person_does(rule: str, action: str) -> None:
    entry = needs_person(rule, "main image")
    assert entry.action == action and entry.reason.startswith("main image: ")


def test_a_profile_becomes_the_target_of_the_rules_that_apply_to_the_image() -> None:
    profile = profile_from_dict(
        {
            "name": "shop",
            "rules": [
                {"id": "bg", "kind": "background", "applies_to": "main", "color": "#FFFFFF"},
                {"id": "fill", "kind": "fill", "applies_to": "main", "min": 0.85},
                {"id": "ratio", "kind": "aspect", "ratio": "1:1.44"},
                {"id": "size", "kind": "min_size", "width": 762, "height": 1100},
                {"id": "fmt", "kind": "format", "allowed": ["jpeg"]},
            ],
        }
    )
    main = target_for(profile, "near_front", True)
    assert main.background == WHITE and main.fill_min == 0.85
    assert main.aspect == pytest.approx(1 / 1.44) and (main.min_width, main.min_height) == (
        762,
        1100,
    )
    other = target_for(profile, "near_back", False, allow_downscale=True)
    assert other.background is None and other.fill_min is None and other.allow_downscale
    assert other.formats == ("jpeg",)


def test_a_model_cut_at_the_bottom_gets_background_on_the_other_sides_only() -> None:
    product = _product(200, 380)  # a waist-up shot: the body runs off the bottom edge
    original = _photo((300, 400), product, (50, 20))
    target = FixTarget(fill_min=0.8, fill_max=0.85, aspect=0.8, background=WHITE)
    fixed = fix_image(_encode(original), target)
    out = _pixels(fixed.data)
    assert np.array_equal(_find(out, product), product)
    box = product_box(out, WHITE, 8)
    assert box is not None and box[3] == fixed.height  # still cut at the frame's bottom edge
    assert 0.8 <= 380 / fixed.height <= 0.85 and fixed.needs == []
    assert abs(fixed.width / fixed.height - 0.8) <= 0.008


def test_a_product_cut_at_both_ends_of_the_axis_to_extend_needs_a_person() -> None:
    product = _product(200, 400)  # runs off the top and the bottom
    data = _encode(_photo((300, 400), product, (50, 0)))
    fixed = fix_image(data, FixTarget(fill_max=0.85, background=WHITE))
    assert fixed.data == data and fixed.fixes == []
    assert [n.rule for n in fixed.needs] == ["fill"]
    assert "top and bottom" in fixed.needs[0].reason
