"""Safe decode over a corpus of awkward images generated here, plus two byte-flipped files
(data/) that once crashed the decoder."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modiste.errors import ImageDecodeError
from modiste.imaging.decode import decode_image, sniff_format

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A 1-bit PNG that *claims* width x height; its pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    """Awkward images on disk, named for what is awkward about them."""
    files: dict[str, bytes] = {}
    rgb = Image.new("RGB", (32, 24), BLUE)
    rgb.paste(RED, (0, 0, 8, 8))
    jpeg = _save(rgb, "JPEG", quality=95)
    files["plain.jpg"] = jpeg
    files["truncated.jpg"] = jpeg[: len(jpeg) // 2]
    files["cmyk.jpg"] = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG")
    files["grey16.png"] = _save(Image.fromarray(np.full((8, 8), 32768, np.uint16)), "PNG")
    files["dark16.png"] = _save(Image.fromarray(np.full((8, 8), 200, np.uint16)), "PNG")
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    pal.paste(1, (0, 0, 4, 8))  # left half red, right half index 0 = transparent
    files["palette_transparent.png"] = _save(pal, "PNG", transparency=0)
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 4, 8))
    files["rgba.png"] = _save(rgba, "PNG")
    la = Image.new("LA", (8, 8), (0, 0))
    la.paste((0, 255), (0, 0, 4, 8))
    files["la.png"] = _save(la, "PNG")
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, (0, 255, 0), BLUE)]
    files["animated.gif"] = _save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    files["exif6.jpg"] = _save(rgb, "JPEG", exif=exif, quality=95)
    files["bomb.png"] = png_header_only(100_000, 100_000)
    files["text.jpg"] = b"just some text, not a photo\n"
    files["page.jpg"] = b"<!DOCTYPE html><html><body>404</body></html>"
    files["empty.jpg"] = b""
    files["pic.webp"] = _save(rgb, "WEBP", lossless=True)
    files["pic.bmp"] = _save(rgb, "BMP")
    files["pic.tif"] = _save(rgb, "TIFF")
    files["pic.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
    files["big.jpg"] = _save(Image.new("RGB", (2000, 1500), BLUE), "JPEG")
    files["png_named.jpg"] = _save(rgb, "PNG")
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


def test_plain_jpeg(corpus: dict[str, Path]) -> None:
    d = decode_image(corpus["plain.jpg"])
    assert (d.format, d.width, d.height, d.image.mode) == ("JPEG", 32, 24, "RGB")
    assert close(d.image.getpixel((1, 1)), RED)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("truncated.jpg", "truncated"),
        ("text.jpg", "not an allowed image format"),
        ("page.jpg", "not an allowed image format"),
        ("empty.jpg", "not an allowed image format"),
        ("pic.svg", "not an allowed image format"),
        ("bomb.png", "decompression bomb"),
    ],
)
def test_refusals_name_the_file(corpus: dict[str, Path], name: str, expected: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(corpus[name])
    assert str(corpus[name]) in str(info.value)
    assert expected in str(info.value)


def test_missing_file_is_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match=r"nope\.jpg: cannot read file"):
        decode_image(tmp_path / "nope.jpg")


def test_bytes_are_named_by_name_argument(corpus: dict[str, Path]) -> None:
    with pytest.raises(ImageDecodeError, match=r"^upload-7: "):
        decode_image(corpus["text.jpg"].read_bytes(), name="upload-7")


def test_cmyk_becomes_rgb(corpus: dict[str, Path]) -> None:
    d = decode_image(corpus["cmyk.jpg"])
    assert d.image.mode == "RGB"
    assert close(d.image.getpixel((8, 8)), RED, tol=60)


def test_16_bit_png_scaled_to_8_bit(corpus: dict[str, Path]) -> None:
    mid = decode_image(corpus["grey16.png"]).image.getpixel((0, 0))
    assert mid == (128, 128, 128)
    # a dark 16-bit image stays dark: 200/65535 of full scale is ~1/255, not 200/255
    dark = decode_image(corpus["dark16.png"]).image.getpixel((0, 0))
    assert dark[0] <= 2


@pytest.mark.parametrize("name", ["palette_transparent.png", "rgba.png"])
def test_transparent_pixels_become_white(corpus: dict[str, Path], name: str) -> None:
    im = decode_image(corpus[name]).image
    assert im.mode == "RGB"
    assert im.getpixel((1, 1)) == RED
    assert im.getpixel((6, 1)) == WHITE


def test_la_png(corpus: dict[str, Path]) -> None:
    im = decode_image(corpus["la.png"]).image
    assert im.mode == "RGB"
    assert im.getpixel((1, 1)) == (0, 0, 0)
    assert im.getpixel((6, 1)) == WHITE


def test_animated_gif_gives_first_frame(corpus: dict[str, Path]) -> None:
    d = decode_image(corpus["animated.gif"])
    assert d.format == "GIF"
    assert close(d.image.getpixel((4, 4)), RED, tol=10)


def test_exif_orientation_applied(corpus: dict[str, Path]) -> None:
    d = decode_image(corpus["exif6.jpg"])
    # stored 32x24 with a red top-left corner; displayed 24x32 with the red corner top-right
    assert (d.width, d.height) == (24, 32)
    assert d.image.size == (24, 32)
    assert close(d.image.getpixel((22, 1)), RED)
    assert close(d.image.getpixel((1, 1)), BLUE)


@pytest.mark.parametrize(
    "name, fmt", [("pic.webp", "WEBP"), ("pic.bmp", "BMP"), ("pic.tif", "TIFF")]
)
def test_other_allowed_formats(corpus: dict[str, Path], name: str, fmt: str) -> None:
    d = decode_image(corpus[name])
    assert (d.format, d.image.size, d.image.mode) == (fmt, (32, 24), "RGB")
    assert d.image.getpixel((1, 1)) == RED


def test_format_comes_from_bytes_not_name(corpus: dict[str, Path]) -> None:
    assert decode_image(corpus["png_named.jpg"]).format == "PNG"


def test_pixel_bomb_refused_without_allocating(corpus: dict[str, Path]) -> None:
    data = corpus["bomb.png"].read_bytes()
    assert len(data) < 200
    tracemalloc.start()
    try:
        with pytest.raises(ImageDecodeError, match="bomb"):
            decode_image(data, name="bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # 10^10 pixels would be gigabytes


def test_pixel_cap_below_pillows_limit(corpus: dict[str, Path]) -> None:
    # 8000 x 8000 is under Pillow's own bomb limit but over ours (40 M): our cap must refuse it.
    with pytest.raises(ImageDecodeError, match="over the cap of 40,000,000"):
        decode_image(png_header_only(8000, 8000), name="large")
    with pytest.raises(ImageDecodeError, match=r"big\.jpg: 2000x1500 = 3,000,000 pixels"):
        decode_image(corpus["big.jpg"], max_pixels=1_000_000)


def test_draft_decoding_gives_a_smaller_image(corpus: dict[str, Path]) -> None:
    full = decode_image(corpus["big.jpg"])
    small = decode_image(corpus["big.jpg"], draft_size=256)
    assert full.image.size == (2000, 1500)
    assert min(small.image.size) >= 256
    assert small.image.size[0] < 2000 and small.image.size[1] < 1500
    assert (small.width, small.height) == (2000, 1500)  # the true size is still reported


def test_sniff_format() -> None:
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert sniff_format(b"GIF89a....") == "GIF"
    assert sniff_format(b"<svg") is None
    assert sniff_format(b"") is None


def test_decoder_failures_other_than_oserror_are_decode_errors() -> None:
    # Found by mutating bytes: a TIFF without dimensions raised TypeError, which used to
    # escape as a traceback.
    name = "tiff_without_dimensions.tif"
    data = (Path(__file__).parent / "data" / name).read_bytes()
    with pytest.raises(ImageDecodeError, match=f"{name}: corrupt or truncated"):
        decode_image(data, name=name)


def test_broken_exif_block_still_gives_its_orientation() -> None:
    # A tag that cannot be written back used to raise struct.error (re-serialising the EXIF
    # after rotating); only the orientation is read now, so the photo decodes, rotated.
    data = (Path(__file__).parent / "data" / "broken_exif.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as raw:
        w, h = raw.size
    decoded = decode_image(data, name="broken_exif.jpg")
    assert decoded.size == (h, w) and (decoded.width, decoded.height) == (h, w)


def test_mutated_images_decode_or_fail_cleanly() -> None:
    """Random byte flips in small images of each format: a picture or an ImageDecodeError."""
    import random

    rng = random.Random(1)
    outcomes = {"decoded": 0, "refused": 0}
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (200, 30, 90)).save(buf, fmt)
        seed = buf.getvalue()
        for _ in range(150):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(12, len(data))] = rng.randrange(256)
            try:  # anything else (struct.error, TypeError...) fails the test
                decode_image(bytes(data), draft_size=64)
                outcomes["decoded"] += 1
            except ImageDecodeError:
                outcomes["refused"] += 1
    assert min(outcomes.values()) > 50, outcomes  # the flips reach the decoders both ways
