"""Bounded memory in the safe decoder: model-size decodes for every format, a process-wide
budget for full-size ones, header-only probing (issue #16, item 1)."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from modiste.errors import ImageDecodeError
from modiste.imaging import decode as decode_mod
from modiste.imaging.decode import PixelBudget, decode_image, probe_image


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 270 to show upright
    return exif.tobytes()


WIDE = Image.new("RGB", (1000, 600), (200, 40, 40))
AWKWARD = {
    "png_rgb": lambda: _save(WIDE, "PNG"),
    "png_rgba": lambda: _save(WIDE.convert("RGBA"), "PNG"),
    "png_palette": lambda: _save(WIDE.convert("P"), "PNG"),
    "png_1bit": lambda: _save(WIDE.convert("1"), "PNG"),
    "png_16bit": lambda: _save(Image.fromarray(np.full((600, 1000), 40000, np.uint16)), "PNG"),
    "gif": lambda: _save(WIDE.convert("P"), "GIF"),
    "webp": lambda: _save(WIDE, "WEBP"),
    "tiff_cmyk": lambda: _save(WIDE.convert("CMYK"), "TIFF"),
    "bmp": lambda: _save(WIDE, "BMP"),
    "jpeg_cmyk": lambda: _save(WIDE.convert("CMYK"), "JPEG"),
}


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_draft_size_shrinks_every_format_and_keeps_the_original_size(name: str) -> None:
    decoded = decode_image(AWKWARD[name](), draft_size=100, name=name)
    assert (decoded.width, decoded.height) == (1000, 600)
    assert decoded.image.mode == "RGB"
    assert 100 <= min(decoded.size) < 200, decoded.size  # the largest whole factor (here 6)
    assert abs(decoded.size[0] / decoded.size[1] - 1000 / 600) < 0.05


def test_reduced_16_bit_stays_at_its_brightness() -> None:
    data = _save(Image.fromarray(np.full((600, 1000), 40000, np.uint16)), "PNG")
    assert decode_image(data, draft_size=100).image.getpixel((5, 5)) == (156, 156, 156)


def test_small_images_are_not_reduced() -> None:
    assert decode_image(_save(Image.new("RGB", (1, 1)), "PNG"), draft_size=320).size == (1, 1)
    thin = decode_image(_save(Image.new("RGB", (3000, 10)), "PNG"), draft_size=320)
    assert thin.size == (3000, 10)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_exif_orientation_applies_after_reduction(fmt: str) -> None:
    im = Image.new("RGB", (1000, 600), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 500, 600))  # left half red
    decoded = decode_image(_save(im, fmt, exif=_exif_rotated()), draft_size=100)
    assert (decoded.width, decoded.height) == (600, 1000)
    w, h = decoded.size
    assert w < h and 100 <= w < 200
    pixel = decoded.image.getpixel((w // 2, 2))
    assert isinstance(pixel, tuple)
    r, _, b = pixel  # rotated: the red half is now on top
    assert r > 200 and b < 60


def test_probe_reads_the_header_only() -> None:
    assert probe_image(_save(WIDE, "PNG")) == ("PNG", 1000, 600)
    with pytest.raises(ImageDecodeError, match="over the cap"):
        probe_image(_save(WIDE, "PNG"), max_pixels=1000, name="big.png")
    with pytest.raises(ImageDecodeError, match=r"x\.bin: not an allowed image format"):
        probe_image(b"<svg/>", name="x.bin")


def test_budget_is_released_after_success_and_failure() -> None:
    decode_image(_save(WIDE, "PNG"))
    with pytest.raises(ImageDecodeError):
        decode_image(_save(WIDE, "PNG")[:300], name="cut.png")
    assert decode_mod._budget.in_use == 0


def test_budget_makes_full_size_decodes_wait_their_turn() -> None:
    budget = PixelBudget(100)
    order: list[str] = []
    first_in = threading.Event()

    def hold(name: str, pixels: int, wait: float) -> None:
        with budget.hold(pixels):
            order.append(f"{name} in")
            first_in.set()
            time.sleep(wait)
            order.append(f"{name} out")

    a = threading.Thread(target=hold, args=("a", 80, 0.2))
    a.start()
    first_in.wait(5)
    b = threading.Thread(target=hold, args=("b", 500, 0))  # over the whole budget: runs alone
    b.start()
    a.join(5)
    b.join(5)
    assert order == ["a in", "a out", "b in", "b out"]
    assert budget.in_use == 0


def test_decodes_share_the_process_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[int] = []
    real_hold = decode_mod._budget.hold

    def spy(pixels: int):  # type: ignore[no-untyped-def]
        held.append(pixels)
        return real_hold(pixels)

    monkeypatch.setattr(decode_mod._budget, "hold", spy)
    decode_image(_save(WIDE, "PNG"), draft_size=100)
    decode_image(_save(Image.new("RGB", (1600, 1600)), "JPEG"), draft_size=200)
    assert held == [600_000, 200 * 200]  # a JPEG is charged at its draft size


def test_big_decodes_give_memory_back(monkeypatch: pytest.MonkeyPatch) -> None:
    real_release = decode_mod.release_memory
    calls: list[int] = []
    monkeypatch.setattr(decode_mod, "release_memory", lambda: calls.append(1))
    monkeypatch.setattr(decode_mod, "_TRIM_AFTER_PIXELS", 500_000)
    decode_image(_save(Image.new("RGB", (100, 100)), "PNG"))
    assert calls == []
    decode_image(_save(WIDE, "PNG"))
    assert calls == [1]
    real_release()  # the real one runs wherever it is (glibc or not)


def test_webp_has_a_lower_pixel_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_mod, "WEBP_MAX_PIXELS", 500_000)
    with pytest.raises(ImageDecodeError, match="cap of 500,000 for WebP"):
        decode_image(_save(WIDE, "WEBP"), name="w.webp")
    assert decode_image(_save(WIDE, "PNG")).size == (1000, 600)  # other formats: max_pixels
