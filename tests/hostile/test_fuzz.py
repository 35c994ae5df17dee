"""Property-based fuzzing (hypothesis) of the decoder and the feed parsers, bounded in time.

Each property runs a fixed number of examples with a per-example deadline, so the whole module
takes seconds; the examples start from valid files and mutate them, which reaches far deeper
into the parsers than random bytes do.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from modiste.catalog.feeds import FeedRow, RowError, parse_price, read_feed
from modiste.errors import FeedError, ImageDecodeError
from modiste.imaging.decode import decode_image

_FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example: a parser that hangs on one input fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: CI stays reproducible
    database=None,  # hermetic: no .hypothesis folder in the checkout
)


def _seed(fmt: str) -> bytes:
    im = Image.new("RGB", (24, 16), (180, 30, 30))
    im.paste((10, 10, 200), (0, 0, 8, 16))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


SEEDS = [_seed(f) for f in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")]


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "max"]))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:  # 0xff runs: the bytes that make size fields huge
            data[at : at + 4] = b"\xff\xff\xff\xff"
        if not data:
            break
    return bytes(data)


@_FUZZ
@given(mutated_image())
def test_decode_mutated_images(data: bytes) -> None:
    try:
        decoded = decode_image(data, max_pixels=4_000_000)
    except ImageDecodeError:
        return
    assert decoded.image.mode == "RGB"
    w, h = decoded.image.size
    assert 0 < w * h <= 4_000_000


@_FUZZ
@given(st.binary(max_size=512))
def test_decode_random_bytes(data: bytes) -> None:
    with contextlib.suppress(ImageDecodeError):
        decode_image(data, max_pixels=4_000_000)


_CELL = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from('",\n\r\t\x00;|=+-@'),
    max_size=30,
)


def _parse(name: str, payload: bytes) -> list[FeedRow | RowError]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(payload)
        try:
            rows = list(read_feed(path))
        except FeedError:
            return []
    for row in rows:
        assert isinstance(row, FeedRow | RowError)
        if isinstance(row, FeedRow):
            assert row.external_id and row.title and row.line >= 1
            for link in row.images:  # resolved to an absolute path, or kept as a URL
                assert "://" in link or link.startswith(("data:", "javascript:", "/")), link
        else:
            assert row.reason and row.line >= 1
    return rows


@_FUZZ
@given(st.lists(st.lists(_CELL, min_size=1, max_size=6), min_size=1, max_size=8))
def test_csv_feeds_from_hostile_cells(rows: list[list[str]]) -> None:
    header = "id,title,price,image_link,link,brand"
    text = header + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    _parse("feed.csv", text.encode("utf-8", "surrogatepass"))


@_FUZZ
@given(st.binary(max_size=600))
def test_csv_and_jsonl_feeds_from_raw_bytes(tail: bytes) -> None:
    _parse("feed.csv", b"id,title,image_link\n" + tail)
    _parse("feed.jsonl", b'{"id": "a", "title": "A"}\n' + tail)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _CELL,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_CELL, inner, max_size=3),
    max_leaves=12,
)


@_FUZZ
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["id", "title", "price", "image_link", "additional_image_link", "seller", "x"]
            ),
            _JSON,
            max_size=7,
        ),
        max_size=6,
    )
)
def test_jsonl_feeds_from_hostile_values(records: list[dict[str, object]]) -> None:
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    _parse("feed.jsonl", text.encode())


@_FUZZ
@given(_JSON)
def test_parse_price_refuses_cleanly(raw: object) -> None:
    try:
        value, _currency = parse_price(raw)
    except ValueError:
        return
    assert value is None or value >= 0
