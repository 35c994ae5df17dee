"""Feed parsing: CSV/TSV/JSONL/folders, Google-Merchant columns, bad rows with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modiste.catalog.feeds import FeedRow, RowError, parse_price, read_feed
from modiste.errors import FeedError

HEADER = [
    "id",
    "title",
    "description",
    "brand",
    "gender",
    "product_type",
    "price",
    "link",
    "image_link",
    "additional_image_link",
    "color",
]
RECORDS = [
    {
        "id": "SKU-1",
        "title": "「メンズ 長袖 シャツ」",
        "description": "綿100%",
        "brand": "Kaze",
        "gender": "male",
        "product_type": "Apparel > Shirts",
        "price": "15.00 USD",
        "link": "https://shop.example/p/1",
        "image_link": "img/front.jpg",
        "additional_image_link": "img/back.jpg, https://cdn.example/side.jpg,img/front.jpg",
        "color": "navy",
    },
    {
        "id": "SKU-2",
        "title": "Linen trousers",
        "description": "",
        "brand": "",
        "gender": "female",
        "product_type": "Apparel > Pants",
        "price": "EUR 12,50",
        "link": "",
        "image_link": "https://res.cloudinary.example/upload/w_400,h_400/pants.jpg",
        "additional_image_link": "",
        "color": "",
    },
]


def _quote(value: str, sep: str) -> str:
    return f'"{value}"' if sep in value or "," in value else value


def write_table(path: Path, records: list[dict[str, str]], sep: str = ",") -> Path:
    lines = [sep.join(HEADER)]
    lines += [sep.join(_quote(r.get(k, ""), sep) for k in HEADER) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows_only(path: Path) -> list[FeedRow]:
    out = list(read_feed(path))
    assert all(isinstance(r, FeedRow) for r in out), out
    return out  # type: ignore[return-value]


def test_csv_google_merchant_columns(tmp_path: Path) -> None:
    first, second = rows_only(write_table(tmp_path / "feed.csv", RECORDS))
    assert first.line == 2 and second.line == 3
    assert first.external_id == "SKU-1" and first.title == "「メンズ 長袖 シャツ」"
    assert (first.price, first.currency) == (15.0, "USD")
    assert (second.price, second.currency) == (12.5, "EUR")
    assert first.brand == "Kaze" and second.brand is None
    assert first.product_type == "Apparel > Shirts" and first.gender == "male"
    assert first.link == "https://shop.example/p/1" and second.link is None
    assert first.attributes == {"color": "navy"} and second.attributes == {}
    # relative paths resolved against the feed's folder, URLs kept, duplicates dropped
    assert first.images == [
        str(tmp_path / "img" / "front.jpg"),
        str(tmp_path / "img" / "back.jpg"),
        "https://cdn.example/side.jpg",
    ]
    # image_link is one URL even with commas in it (CDN transformations)
    assert second.images == ["https://res.cloudinary.example/upload/w_400,h_400/pants.jpg"]


def test_tsv_and_jsonl_parse_like_csv(tmp_path: Path) -> None:
    csv_rows = rows_only(write_table(tmp_path / "feed.csv", RECORDS))
    tsv_rows = rows_only(write_table(tmp_path / "feed.tsv", RECORDS, sep="\t"))
    jsonl = tmp_path / "feed.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n", encoding="utf-8"
    )
    jsonl_rows = rows_only(jsonl)
    for a, b, c in zip(csv_rows, tsv_rows, jsonl_rows, strict=True):
        assert a.row_hash() == b.row_hash() == c.row_hash()
    assert [r.line for r in jsonl_rows] == [1, 2]


def test_jsonl_lists_and_numbers(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    record = {
        "id": 7,
        "title": "Coat",
        "price": 99.5,
        "image_link": "a.jpg",
        "additional_image_link": ["b.jpg", "http://x.example/c.jpg"],
        "sizes": ["S", "M"],
    }
    feed.write_text(json.dumps(record) + "\n")
    (row,) = rows_only(feed)
    assert row.external_id == "7" and row.price == 99.5
    assert row.images == [
        str(tmp_path / "a.jpg"),
        str(tmp_path / "b.jpg"),
        "http://x.example/c.jpg",
    ]
    assert row.attributes == {"sizes": ["S", "M"]}


def test_bad_csv_rows_reported_with_line_numbers(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,price,image_link\n"
        "1,Good shirt,10,a.jpg\n"  # line 2
        ",No id,10,a.jpg\n"  # 3
        "3,,10,a.jpg\n"  # 4
        "4,Bad price,ten dollars,a.jpg\n"  # 5
        "5,Too,many,fields,here\n"  # 6
        "6,Too few\n"  # 7
        '7,"Multi\nline title",5,a.jpg\n'  # 8-9
        "8,Also good,-3,a.jpg\n"  # 10: negative price
        "9,Last good,1,a.jpg\n"  # 11
    )
    out = list(read_feed(feed))
    errors = {r.line: r for r in out if isinstance(r, RowError)}
    good = [r for r in out if isinstance(r, FeedRow)]
    assert [r.external_id for r in good] == ["1", "7", "9"]
    assert good[-1].line == 11
    assert errors[3].reason == "missing id"
    assert errors[4].reason == "missing title" and errors[4].external_id == "3"
    assert "not a number" in errors[5].reason and errors[5].external_id == "4"
    assert errors[6].reason == "5 fields, header has 4"
    assert errors[7].reason == "2 fields, header has 4"
    assert "negative" in errors[10].reason
    assert len(errors) == 6


def test_bad_jsonl_lines(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"id": "a", "title": "A"}\n'
        "{not json\n"
        "\n"
        '["a list"]\n'
        '{"id": "b"}\n'
        '{"id": "c", "title": "C", "price": -1}\n'
        '{"id": "d", "title": "D", "price": NaN}\n'
        '{"id": "e", "title": "E", "price": true}\n'
        '{"id": "f", "title": "F"}\n'
    )
    out = list(read_feed(feed))
    assert [(r.line, r.external_id) for r in out if isinstance(r, FeedRow)] == [(1, "a"), (9, "f")]
    errors = {r.line: r.reason for r in out if isinstance(r, RowError)}
    assert errors[2].startswith("invalid JSON")
    assert errors[4] == "a JSON object is expected on each line"
    assert errors[5] == "missing title"
    assert set(errors) == {2, 4, 5, 6, 7, 8}


def test_duplicate_ids_in_one_feed(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("id,title,seller\n1,First,a\n1,Again,a\n1,Other seller,b\n")
    out = list(read_feed(feed))
    assert isinstance(out[0], FeedRow) and isinstance(out[2], FeedRow)
    assert isinstance(out[1], RowError)
    assert out[1].line == 3 and "duplicate id '1'" in out[1].reason


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("15.00 USD", (15.0, "USD")),
        ("EUR 12,50", (12.5, "EUR")),
        ("1,299.00", (1299.0, None)),
        ("1.299,00 EUR", (1299.0, "EUR")),
        ("1,299", (1299.0, None)),
        ("12,5", (12.5, None)),
        ("  9 usd ", (9.0, "USD")),
        (12, (12.0, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_price(raw: object, expected: tuple[float | None, str | None]) -> None:
    assert parse_price(raw) == expected


@pytest.mark.parametrize("raw", ["ten", "$", "-5", -5, float("nan"), float("inf"), True, [1]])
def test_parse_price_refuses(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_price(raw)


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff")


def test_folder_of_product_folders(tmp_path: Path) -> None:
    _image(tmp_path / "red-summer_dress" / "2.jpg")
    _image(tmp_path / "red-summer_dress" / "1.PNG")
    (tmp_path / "red-summer_dress" / "notes.txt").write_text("x")
    _image(tmp_path / "coat" / "a.webp")
    (tmp_path / "empty").mkdir()
    _image(tmp_path / ".hidden" / "a.jpg")
    out = list(read_feed(tmp_path))
    rows = [r for r in out if isinstance(r, FeedRow)]
    assert [r.external_id for r in rows] == ["coat", "red-summer_dress"]
    dress = rows[1]
    assert dress.title == "red summer dress"
    assert [Path(p).name for p in dress.images] == ["1.PNG", "2.jpg"]
    assert all(Path(p).is_absolute() for p in dress.images)
    (err,) = [r for r in out if isinstance(r, RowError)]
    assert err.external_id == "empty" and "no images" in err.reason


def test_feed_level_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such feed"):
        list(read_feed(tmp_path / "missing.csv"))
    (tmp_path / "feed.xml").write_text("<rss/>")
    with pytest.raises(FeedError, match="unknown feed type"):
        list(read_feed(tmp_path / "feed.xml"))
    (tmp_path / "noid.csv").write_text("sku,title\n1,x\n")
    with pytest.raises(FeedError, match="no 'id' column"):
        list(read_feed(tmp_path / "noid.csv"))
    (tmp_path / "latin1.csv").write_bytes("id,title\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(FeedError, match="not UTF-8"):
        list(read_feed(tmp_path / "latin1.csv"))
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(FeedError, match="no product sub-folders"):
        list(read_feed(empty))


B = '{"id": "b", "title": "B", '  # the start of the bad JSON line
BAD_ROWS = {
    "huge JSON price": ("jsonl", B + '"price": 1' + "0" * 400 + "}", "too large"),
    "huge text price": ("csv", "b,B," + "9" * 400 + ",", "too large"),
    "NaN attribute": ("jsonl", B + '"weight": NaN}', "NaN is not a valid"),
    "unknown home dir": ("csv", "b,B,,~nosuchuser-xyz/x.jpg", "not a usable path"),
    "NUL in a link": ("jsonl", B + '"image_link": "a\\u0000b.jpg"}', "null byte"),
    "deep nesting": ("jsonl", B + '"x": ' + "[" * 100_000 + "]" * 100_000 + "}", "too deeply"),
    "5000-digit number": ("jsonl", B + '"n": ' + "7" * 5000 + "}", "digits"),
}


@pytest.mark.parametrize("case", BAD_ROWS, ids=list(BAD_ROWS))
def test_a_bad_row_is_reported_and_the_rows_around_it_are_read(tmp_path: Path, case: str) -> None:
    kind, bad, reason = BAD_ROWS[case]
    if kind == "csv":
        lines = ["id,title,price,image_link", "a,A,,", bad, "c,C,,"]
    else:
        lines = ['{"id": "a", "title": "A"}', bad, '{"id": "c", "title": "C"}']
    feed = tmp_path / f"feed.{kind}"
    feed.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    rows = list(read_feed(feed))
    assert [r.external_id for r in rows if isinstance(r, FeedRow)] == ["a", "c"]
    (error,) = [r for r in rows if isinstance(r, RowError)]
    assert reason in error.reason and error.line == (3 if kind == "csv" else 2)


def test_csv_structure_errors_are_reported_not_swallowed(tmp_path: Path) -> None:
    import csv

    unterminated = tmp_path / "open_quote.csv"
    unterminated.write_text('id,title\na,A\nb,"never closed\nc,C\nd,D\n')
    rows = list(read_feed(unterminated))
    assert [r.external_id for r in rows if isinstance(r, FeedRow)] == ["a"]
    (error,) = [r for r in rows if isinstance(r, RowError)]
    assert error.line == 3 and "never closed" in error.reason and "rest of the file" in error.reason

    limit = csv.field_size_limit()
    huge = tmp_path / "huge.csv"
    huge.write_text(f"id,title\na,A\nb,{'x' * (limit + 1)}\nc,C\n")
    rows = list(read_feed(huge))
    assert [r.external_id for r in rows if isinstance(r, FeedRow)] == ["a", "c"]
    (error,) = [r for r in rows if isinstance(r, RowError)]
    assert error.line == 3 and "field limit" in error.reason


def test_a_bad_byte_late_in_a_big_file_costs_its_row_only(tmp_path: Path) -> None:
    good = [f"p{i},Product {i}" for i in range(5000)]  # well past the 64 KiB encoding check
    feed = tmp_path / "late.csv"
    text = "\n".join(["id,title", *good[:4000], "bad,Caf\udce9", *good[4000:]]) + "\n"
    feed.write_bytes(text.encode("utf-8", "surrogateescape"))
    rows = list(read_feed(feed))
    assert sum(isinstance(r, FeedRow) for r in rows) == 5000
    (error,) = [r for r in rows if isinstance(r, RowError)]
    assert error.line == 4002 and error.reason == "not UTF-8 text (byte 0xE9)"
