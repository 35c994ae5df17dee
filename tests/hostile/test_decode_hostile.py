"""Every hostile image through the one decoder: refused with ImageDecodeError, or decoded to
sane 8-bit RGB within the pixel cap; never another exception, never a giant allocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from modiste.errors import ImageDecodeError
from modiste.imaging.decode import DEFAULT_MAX_PIXELS, decode_image

from .corpus import IMAGE_CASES, REFUSE, ImageCase


def _check(case: ImageCase, source: bytes | Path) -> None:
    try:
        decoded = decode_image(source, name=case.name)
    except ImageDecodeError as e:
        assert case.name in str(e)  # the message names the input
        assert "Traceback" not in str(e)
        return
    assert case.expect != REFUSE, f"{case.name} was accepted ({decoded.format} {decoded.size})"
    assert decoded.image.mode == "RGB"
    w, h = decoded.image.size
    assert 0 < w * h <= DEFAULT_MAX_PIXELS
    decoded.image.getpixel((w - 1, h - 1))  # the pixels are really there


@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.name)
def test_hostile_image_bytes(case: ImageCase) -> None:
    _check(case, case.make())


@pytest.mark.parametrize(
    "case", [c for c in IMAGE_CASES if c.expect == REFUSE][:8], ids=lambda c: c.name
)
def test_hostile_image_files_under_a_lying_name(case: ImageCase, tmp_path: Path) -> None:
    path = tmp_path / f"{case.name}{case.suffix}"
    path.write_bytes(case.make())
    with pytest.raises(ImageDecodeError):
        decode_image(path, name=case.name)


def test_bombs_are_refused_under_a_small_cap() -> None:
    """The cap is the caller's: a 30000x10 strip passes the default and fails a small one."""
    wide = next(c for c in IMAGE_CASES if c.name == "wide_30000x10").make()
    assert decode_image(wide).size == (30_000, 10)
    with pytest.raises(ImageDecodeError, match="over the cap"):
        decode_image(wide, max_pixels=100_000)
