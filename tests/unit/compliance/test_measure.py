"""Measurements on synthetic photos: background, product box and fill, marks, overlay text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from compliance_helpers import StubOcr, encode, photo, with_text
from PIL import Image

from modiste.compliance.measure import ImageInput, analyse_pixels, measure_image
from modiste.domain import Box
from modiste.models.ocr import OcrLine


def test_white_packshot() -> None:
    px = analyse_pixels(photo(product=(0.1, 0.2, 0.9, 0.7)))
    assert px.plain
    assert px.border_color == (255, 255, 255)
    assert px.share_near((255, 255, 255), 3) == 1.0
    assert px.product_box is not None
    assert px.fill == pytest.approx(0.8, abs=0.02)  # the longer side: 80 % of the width
    assert px.marks == ()


def test_grey_backdrop_is_plain_but_not_white() -> None:
    px = analyse_pixels(photo(bg=(225, 225, 225)))
    assert px.plain
    assert px.share_near((255, 255, 255), 6) == 0.0
    assert px.share_near(None, 6) == 1.0  # "plain": its own colour


def test_small_product_in_frame() -> None:
    px = analyse_pixels(photo(product=(0.35, 0.35, 0.65, 0.6)))
    assert px.fill == pytest.approx(0.3, abs=0.02)


def test_a_second_part_joins_the_product_and_a_badge_is_a_mark() -> None:
    img = photo(product=(0.05, 0.3, 0.45, 0.8), marks=[(0.8, 0.03, 0.95, 0.07)])
    img[round(0.3 * 1000) : round(0.8 * 1000), round(0.55 * 800) : round(0.95 * 800)] = 60
    px = analyse_pixels(img)  # two shoes: one product spanning both
    assert px.product_box is not None
    assert px.product_box.x1 == pytest.approx(0.05, abs=0.01)
    assert px.product_box.x2 == pytest.approx(0.95, abs=0.01)
    assert len(px.marks) == 1
    assert px.marks[0].y2 < 0.1


def test_model_cut_at_the_hem_keeps_a_white_background() -> None:
    px = analyse_pixels(photo(product=(0.2, 0.1, 0.8, 1.0)))
    assert px.share_near((255, 255, 255), 6) == 1.0  # the product's edge is not background


def test_a_scene_is_not_plain_and_uses_the_detector_box() -> None:
    import numpy as np

    scene = np.random.default_rng(1).integers(0, 255, size=(300, 300, 3), dtype=np.uint8)
    assert analyse_pixels(scene).product_box is None
    px = analyse_pixels(scene, Box(0.2, 0.2, 0.8, 0.8))
    assert not px.plain
    assert px.fill == pytest.approx(0.6)


def test_measure_reads_size_bytes_and_format() -> None:
    data = encode(photo(size=(640, 480)), "PNG")
    facts = measure_image(ImageInput("a.png", data=data))
    assert (facts.width, facts.height, facts.file_bytes, facts.format) == (
        640, 480, len(data), "png",
    )  # fmt: skip
    assert facts.fingerprint is not None
    assert facts.error is None


def test_unreadable_image_is_an_error_not_an_exception(tmp_path: object) -> None:
    facts = measure_image(ImageInput("bad.jpg", data=b"not an image"))
    assert facts.error
    assert facts.pixels is None


def test_clean_packshot_needs_no_ocr() -> None:
    ocr = StubOcr([("SALE", (0.0, 0.0, 0.2, 0.05))])
    facts = measure_image(ImageInput("a.jpg", data=encode(photo())))
    text = facts.text(ocr)
    assert text.lines == () and not text.ran_ocr and ocr.calls == 0


def test_overlay_text_beside_the_product_is_found() -> None:
    img = photo(product=(0.2, 0.2, 0.8, 0.9), marks=[(0.05, 0.03, 0.4, 0.08)])
    ocr = StubOcr([("SALE -50%", (0.05, 0.03, 0.4, 0.08))])
    text = measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr)
    assert text.lines == ("SALE -50%",)
    assert ocr.calls == 1


def test_text_printed_on_the_garment_is_not_overlay() -> None:
    img = photo(product=(0.2, 0.2, 0.8, 0.9), marks=[(0.02, 0.02, 0.06, 0.04)])
    ocr = StubOcr([("BROOKLYN", (0.35, 0.4, 0.65, 0.48)), ("x", (0.02, 0.02, 0.06, 0.04))])
    text = measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr)
    assert text.printed == ("BROOKLYN",)
    assert text.lines == ("x",)


def test_a_caption_touching_the_product_is_still_found() -> None:
    img, box = with_text(photo(product=(0.3, 0.2, 0.9, 0.9)), "NEW IN", (0.03, 0.5), 0.06)
    img[round(0.52 * 1000) : round(0.54 * 1000), round(box[2] * 800) : 241] = (200, 0, 0)
    ocr = StubOcr([("NEW IN", box)])
    assert measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr).lines == ("NEW IN",)


def test_a_banner_across_the_frame_is_overlay_even_over_the_product() -> None:
    img, _ = with_text(photo(product=(0.1, 0.1, 0.9, 0.9)), "WATERMARK SAMPLE", (0.02, 0.45))
    ocr = StubOcr([("WATERMARK SAMPLE", (0.02, 0.45, 0.98, 0.5))])
    assert measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr).lines


def test_without_ocr_the_result_says_so() -> None:
    img = photo(marks=[(0.0, 0.0, 0.05, 0.02)])
    text = measure_image(ImageInput("a.jpg", data=encode(img))).text(None)
    assert text.unavailable and "OCR" in text.unavailable


def test_forced_ocr_reads_a_clean_photo_and_keeps_printed_text_allowed() -> None:
    ocr = StubOcr([("BROOKLYN", (0.35, 0.4, 0.65, 0.48))])
    facts = measure_image(ImageInput("a.jpg", data=encode(photo())))
    text = facts.text(ocr, force=True)
    assert ocr.calls == 1
    assert text.printed == ("BROOKLYN",) and text.lines == ()


def test_a_band_across_the_bottom_is_a_mark_not_the_product() -> None:
    img = photo(product=(0.2, 0.1, 0.8, 0.85))
    img[920:1000] = (200, 0, 0)  # "FREE SHIPPING" strip
    img[945:975, 300:500] = (255, 255, 255)  # its white letters
    px = analyse_pixels(img)
    assert px.product_box is not None and px.product_box.y2 < 0.9
    assert any(m.y1 > 0.9 and m.x2 - m.x1 > 0.99 for m in px.marks)
    assert px.share_near((255, 255, 255), 8) < 0.9  # the strip covers the white border


def _badge(img, centre: tuple[float, float], size: tuple[float, float]):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    h, w = img.shape[:2]
    cx, cy, bw, bh = centre[0] * w, centre[1] * h, size[0] * w, size[1] * h
    ImageDraw.Draw(im).ellipse(
        (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), fill=(210, 20, 20)
    )
    return np.array(im)


def test_a_badge_over_the_products_edge_is_overlay_a_patch_on_it_is_printed() -> None:
    base = photo(product=(0.2, 0.1, 0.8, 1.0))
    badge = _badge(base, (0.8, 0.9), (0.3, 0.1))  # half on the product, half on the white
    patch = _badge(base, (0.5, 0.4), (0.3, 0.1))  # a printed patch in the middle of it
    for img, on_edge in ((badge, True), (patch, False)):
        cx, cy = (0.8, 0.9) if on_edge else (0.5, 0.4)
        ocr = StubOcr([("SALE", (cx - 0.08, cy - 0.025, cx + 0.08, cy + 0.025))])
        text = measure_image(ImageInput("a.png", data=encode(img, "PNG"))).text(ocr, force=True)
        assert (text.lines, text.printed) == ((("SALE",), ()) if on_edge else ((), ("SALE",)))


class _Detector:
    """A detection-only reader: lines come back unread; ``words`` reads the ones asked for."""

    def __init__(self, lines: list[tuple[tuple[float, float, float, float], str]]) -> None:
        self.lines = lines  # (box as fractions, what reading it would give)
        self.asked: list[int] = []

    def read(self, image: Image.Image, regions: Sequence[Box] | None = None) -> list[OcrLine]:
        w, h = image.size
        return [
            OcrLine("", Box(b[0] * w, b[1] * h, b[2] * w, b[3] * h), 1.0) for b, _ in self.lines
        ]

    def words(self, image: Image.Image, boxes: Sequence[Box]) -> list[tuple[str, float]]:
        self.asked.append(len(boxes))
        w, h = image.size
        out = []
        for b in boxes:
            word = next(
                t for f, t in self.lines if abs(f[0] * w - b.x1) < 1 and abs(f[1] * h - b.y1) < 1
            )
            out.append((word, 0.9 if word else 0.1))
        return out


def test_on_a_plain_background_ocr_looks_only_in_strips_across_the_marks() -> None:
    img = photo(product=(0.2, 0.3, 0.8, 0.9), marks=[(0.05, 0.03, 0.3, 0.08)])
    ocr = StubOcr([("SALE", (0.05, 0.03, 0.3, 0.08))])
    measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr)
    (regions,) = ocr.regions
    assert regions is not None and len(regions) == 1
    (strip,) = regions
    w, h = 410, 512  # the 800 x 1000 photo at the detector's size
    assert (strip.x1, strip.x2) == (0.0, w)  # across the frame: text runs sideways from a mark
    assert strip.y1 == 0.0 and 0.08 * h < strip.y2 < 0.3 * h  # the mark and a margin only


def test_a_scene_or_a_forced_read_looks_at_the_whole_photo() -> None:
    ocr = StubOcr()
    measure_image(ImageInput("a.jpg", data=encode(photo()))).text(ocr, force=True)
    assert ocr.regions == [None]


def test_detected_lines_outside_the_product_are_read_to_drop_patterns() -> None:
    img = photo(
        product=(0.3, 0.3, 0.8, 0.9), marks=[(0.05, 0.03, 0.3, 0.08), (0.02, 0.5, 0.2, 0.6)]
    )
    ocr = _Detector([((0.05, 0.03, 0.3, 0.08), "SALE"), ((0.02, 0.5, 0.2, 0.6), "")])
    text = measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr)
    assert ocr.asked == [2]  # both read, in one call
    assert text.lines == ("SALE",) and text.chars == 4  # the pattern holds no word: dropped


def test_unread_lines_count_characters_from_their_shape() -> None:
    img = photo(product=(0.3, 0.3, 0.8, 0.9), marks=[(0.05, 0.03, 0.3, 0.08)])
    ocr = StubOcr([("", (0.05, 0.03, 0.3, 0.08))])  # a reader that only detects, no words()
    text = measure_image(ImageInput("a.jpg", data=encode(img))).text(ocr)
    # 0.25 x 0.05 of an 800 x 1000 frame: 200 x 50 px, about 200 / (50 * 0.6) = 7 glyphs
    assert text.chars == 7
