"""Hostile feeds through import (and the store stage for their links): each bad row is a clear
row error or a failed image with its reason, the rows around it still import, and the product
stored before is untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modiste.catalog.importer import ImportReport, import_feed
from modiste.catalog.repository import get_product, product_dict
from modiste.errors import FeedError
from modiste.pipeline.ingest import run_ingest

from .conftest import KEEP_ID, KEEP_SELLER, Keeper
from .corpus import BAD_SCHEMES, FORBIDDEN_URLS, _photo, _save

MB = 1024 * 1024

# name -> feed file name and its bytes. Every feed also holds a good row "ok-<n>".
FEEDS: dict[str, tuple[str, bytes]] = {
    "csv_unclosed_quote": ("f.csv", b'id,title\nok-1,Fine\nh1,"Never closed\nok-2,Lost\n'),
    "csv_stray_quotes": ("f.csv", b'id,title\nok-1,Fine\nh1,Ti"tle "x" y\nh2,"a"b,c\n'),
    "csv_nul_bytes": ("f.csv", b"id,title\nok-1,Fine\nh\x001,Ti\x00tle\nh2,\x00\x00\x00\n"),
    "csv_field_over_limit": (
        "f.csv",
        b"id,title\nok-1,Fine\nh1," + b"A" * (11 * MB) + b"\nok-2,B\n",
    ),
    "csv_9mb_description": (
        "f.csv",
        b"id,title,description\nok-1,Fine,x\nh1,Big," + b"D" * (9 * MB) + b"\n",
    ),
    "csv_formulas": (
        "f.csv",
        b"id,title,brand,notes\nok-1,Fine,x,1\n"
        b"h1,\"=cmd|' /C calc'!A0\",+SUM(1+1),-2+3\n"
        b'h2,@SUM(A1:A9),"=HYPERLINK(""http://evil"",""x"")",=1\n',
    ),
    "csv_ragged": ("f.csv", b"id,title\nok-1,Fine\nh1\nh2,a,b,c,d\n,,\n"),
    "csv_huge_header": (
        "f.csv",
        b"id,title,"
        + b",".join(b"c%d" % i for i in range(5000))
        + b"\nok-1,Fine"
        + b"," * 5000
        + b"\n",
    ),
    "csv_latin1_row": ("f.csv", b"id,title\nok-1,Fine\nh1,Caf\xe9\n"),
    "csv_utf16_file": ("f.csv", "id,title\nok-1,Fine\n".encode("utf-16")),
    "csv_only_bom": ("f.csv", b"\xef\xbb\xbf"),
    "csv_no_id_column": ("f.csv", b"title,price\nFine,1\n"),
    "jsonl_broken_lines": (
        "f.jsonl",
        b'{"id": "ok-1", "title": "Fine"}\n{"id": "h1", "title": \n[1, 2]\n"text"\n'
        b'{"id": "h2", "title": NaN}\n{"id": "h3", "title": "x", "price": 1e999}\n'
        b'{"id": "h4", "title": "x", "price": ' + b"9" * 5000 + b"}\n",
    ),
    "jsonl_deep_nesting": (
        "f.jsonl",
        b'{"id": "ok-1", "title": "Fine"}\n{"id": "h1", "title": "x", "a": '
        + b"[" * 200_000
        + b"]" * 200_000
        + b"}\n",
    ),
    "jsonl_nul_and_controls": (
        "f.jsonl",
        b'{"id": "ok-1", "title": "Fine"}\n{"id": "h\\u00001", "title": "a\\u0000b\\u001b[31m"}\n',
    ),
    "jsonl_wrong_types": (
        "f.jsonl",
        b'{"id": "ok-1", "title": "Fine"}\n{"id": {"a": 1}, "title": ["x"]}\n'
        b'{"id": "h2", "title": "x", "price": {"amount": 1}, "image_link": 5}\n'
        b'{"id": "h3", "title": "x", "price": true, "image_link": [null, {}, 1]}\n',
    ),
    "jsonl_10mb_line": (
        "f.jsonl",
        b'{"id": "ok-1", "title": "Fine"}\n{"id": "h1", "title": "' + b"T" * (10 * MB) + b'"}\n',
    ),
}


def _import(keeper: Keeper, path: Path) -> ImportReport | None:
    try:
        return import_feed(keeper.db, path, seller="hostile")
    except FeedError as e:  # a whole-file refusal is fine, when it says why
        assert str(path) in str(e) or path.name in str(e)
        return None


@pytest.mark.parametrize("name", list(FEEDS))
def test_hostile_feed_files(name: str, keeper: Keeper, tmp_path: Path) -> None:
    filename, payload = FEEDS[name]
    path = tmp_path / name / filename
    path.parent.mkdir()
    path.write_bytes(payload)
    report = _import(keeper, path)
    if report is not None:
        for err in report.errors:
            assert err.line >= 1 and err.reason and "Traceback" not in err.reason
        if b"ok-1" in payload and name not in ("csv_utf16_file",):
            with keeper.db.session() as session:  # the good row around the bad ones got in
                assert get_product(session, "ok-1", "hostile").title == "Fine"
    keeper.assert_intact()


def test_formulas_are_stored_as_text(keeper: Keeper, tmp_path: Path) -> None:
    """A formula is data: stored as written, never evaluated or dropped."""
    path = tmp_path / "f.csv"
    path.write_bytes(FEEDS["csv_formulas"][1])
    report = import_feed(keeper.db, path, seller="hostile")
    assert not report.errors, report.as_dict()
    with keeper.db.session() as session:
        assert get_product(session, "h1", "hostile").title == "=cmd|' /C calc'!A0"


def test_feed_cannot_overwrite_another_sellers_product(keeper: Keeper, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"id,title,seller\n{KEEP_ID},Hijacked,{KEEP_SELLER}-x\n")
    import_feed(keeper.db, path, seller="hostile")
    keeper.assert_intact()


def _store(keeper: Keeper, tmp_path: Path, rows: list[tuple[str, str]]) -> dict[str, dict]:
    """Import rows (id, image link) and run the store stage; product id -> its product_dict."""
    path = tmp_path / "links" / "feed.csv"
    path.parent.mkdir(exist_ok=True)
    body = "".join(f'{pid},Product {pid},"{link}"\n' for pid, link in rows)
    path.write_text("id,title,image_link\n" + body)
    report = import_feed(keeper.db, path, seller="hostile")
    run_ingest(keeper.settings, keeper.db, stages=["store"])
    out = {}
    with keeper.db.session() as session:
        for pid, _link in rows:
            if any(e.external_id == pid for e in report.errors):
                continue  # refused at import with a reason: fine
            out[pid] = product_dict(get_product(session, pid, "hostile"))
    return out


def test_links_to_forbidden_addresses_fail_with_a_reason(
    keeper: Keeper, tmp_path: Path, connections: list[str]
) -> None:
    links = [*FORBIDDEN_URLS, *BAD_SCHEMES]
    stored = _store(keeper, tmp_path, [(f"u{i}", link) for i, link in enumerate(links)])
    for pid, product in stored.items():
        for image in product["images"]:
            assert image["status"] == "failed", (pid, image)
            assert image["error"] and "Traceback" not in image["error"]
    assert connections == []  # refused before any connection
    keeper.assert_intact()


@pytest.mark.parametrize(
    "link",
    [
        "/etc/passwd",
        "../../../../../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/dev/zero",
        "/dev/urandom",
        "/proc/self/environ",
        "file:///etc/passwd",
        "~root/.ssh/id_rsa",
    ],
)
def test_local_paths_to_system_files_are_not_stored(
    keeper: Keeper, tmp_path: Path, link: str
) -> None:
    stored = _store(keeper, tmp_path, [("t1", link)])
    for product in stored.values():
        assert [i["status"] for i in product["images"]] in ([], ["failed"]), product
    keeper.assert_intact()


def test_relative_links_stay_inside_the_feed_folder(keeper: Keeper, tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(_save(_photo((20, 20)), "PNG"))
    stored = _store(keeper, tmp_path, [("t1", "../outside.png")])
    for product in stored.values():
        assert [i["status"] for i in product["images"]] in ([], ["failed"]), product


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        " javascript:alert(1)",
    ],
)
def test_product_links_must_be_http(keeper: Keeper, tmp_path: Path, link: str) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps({"id": "x1", "title": "Coat", "link": link}) + "\n")
    report = import_feed(keeper.db, path, seller="hostile")
    if report.errors:
        return  # refused with a reason
    with keeper.db.session() as session:
        stored = get_product(session, "x1", "hostile").link
    assert stored is None or stored.lower().startswith(("http://", "https://"))
