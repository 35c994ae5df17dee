"""Reading product feeds: CSV/TSV and JSONL with Google-Merchant-style columns, or a folder.

Parsing is separate from storing: :func:`read_feed` yields a :class:`FeedRow` or a
:class:`RowError` (with its line number) per record, and never stops at a bad one.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modiste.catalog.links import link_problem, safe_http_url
from modiste.catalog.local_files import FileRoots
from modiste.errors import FeedError
from modiste.exports import restore_row

KNOWN_COLUMNS = (
    "id",
    "title",
    "description",
    "brand",
    "gender",
    "product_type",
    "price",
    "currency",
    "seller",
    "link",
    "image_link",
    "additional_image_link",
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
_PRICE = re.compile(r"^\s*([A-Z]{3})?\s*([-+]?[0-9][0-9.,\s]*)\s*([A-Z]{3})?\s*$")

csv.field_size_limit(10 * 1024 * 1024)


@dataclass(slots=True)
class FeedRow:
    line: int
    external_id: str
    title: str
    description: str = ""
    brand: str | None = None
    gender: str | None = None
    product_type: str | None = None
    price: float | None = None
    currency: str | None = None
    seller: str | None = None
    link: str | None = None
    images: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was dropped from an imported row

    def row_hash(self) -> str:
        """Stable hash of the content (not the line number): unchanged rows are skipped."""
        data = asdict(self)
        data.pop("line")
        data.pop("notes")
        return hashlib.sha256(
            json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str
    external_id: str | None = None


def parse_price(raw: Any) -> tuple[float | None, str | None]:
    """'15.00 USD', 'EUR 12,50', '1,299.00', 12 -> (value, currency)."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"price {raw!r} is not a number")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # an integer too large for a float
            raise ValueError(f"price {str(raw)[:20]}... is too large") from None
        if not math.isfinite(value) or value < 0:  # JSON numbers skip the text checks below
            raise ValueError(f"price {raw!r} is not a valid price")
        return value, None
    m = _PRICE.match(str(raw).strip().upper())
    if not m:
        raise ValueError(f"price {raw!r} is not a number")
    number = m.group(2).replace(" ", "")
    if "," in number and "." in number:
        # the last separator is the decimal one: 1,299.00 or 1.299,00
        if number.rfind(",") > number.rfind("."):
            number = number.replace(".", "").replace(",", ".")
        else:
            number = number.replace(",", "")
    elif "," in number:
        head, _, tail = number.rpartition(",")
        number = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else number.replace(",", "")
    value = float(number)
    if not math.isfinite(value):  # 400 nines parse as inf
        raise ValueError(f"price {str(raw)[:20]!r}... is too large")
    if value < 0:
        raise ValueError(f"price {raw!r} is negative")
    return value, m.group(1) or m.group(3)


def resolve_image_link(link: str, base: Path, roots: FileRoots | None = None) -> str:
    """URLs stay as they are; file paths become real paths (relative to the feed's folder),
    refused when outside ``roots`` (default: the feed's folder)."""
    link = link.strip()
    if "://" in link or link.lower().startswith(("data:", "javascript:")):
        return link
    try:
        path = base / Path(link).expanduser()  # an absolute path stays itself
    except (RuntimeError, ValueError, OSError) as e:  # ~unknownuser
        raise ValueError(f"image link {link[:80]!r} is not a usable path ({e})") from None
    try:  # the real path (symlinks and .. resolved), inside the roots
        return str((roots or FileRoots.build([base])).check(path))
    except FeedError as e:  # outside the roots, a NUL byte, a symlink loop...
        raise ValueError(f"image link {link[:80]!r} refused: {e}") from None


def _split_links(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return [str(x).strip() for x in raw if str(x).strip()]
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def record_to_row(
    record: dict[str, Any], line: int, base: Path, roots: FileRoots | None = None
) -> FeedRow | RowError:
    record = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    external_id = _clean(record.get("id"))
    if not external_id:
        return RowError(line, "missing id")
    title = _clean(record.get("title"))
    if not title:
        return RowError(line, "missing title", external_id)
    try:
        price, currency_in_price = parse_price(record.get("price"))
    except ValueError as e:
        return RowError(line, str(e), external_id)
    # image_link is one URL (CDN URLs may contain commas: w_400,h_400); only the additional
    # links are a comma-separated list.
    main_link = record.get("image_link")
    links = _split_links(main_link) if isinstance(main_link, list) else []
    if not isinstance(main_link, list) and _clean(main_link):
        links.append(str(main_link).strip())
    links += _split_links(record.get("additional_image_link"))
    images: list[str] = []
    for link in links:
        try:
            resolved = resolve_image_link(link, base, roots)
        except ValueError as e:
            return RowError(line, str(e), external_id)
        if resolved not in images:
            images.append(resolved)
    extras = {k: v for k, v in record.items() if k not in KNOWN_COLUMNS and v not in (None, "")}
    notes: list[str] = []
    shop_link = _clean(record.get("link"))
    if shop_link is not None and safe_http_url(shop_link) is None:  # javascript:, data: (XSS)
        notes.append(link_problem(shop_link))
        shop_link = None
    return FeedRow(
        line=line,
        external_id=external_id,
        title=title,
        description=_clean(record.get("description")) or "",
        brand=_clean(record.get("brand")),
        gender=_clean(record.get("gender")),
        product_type=_clean(record.get("product_type")),
        price=price,
        currency=_clean(record.get("currency")) or currency_in_price,
        seller=_clean(record.get("seller")),
        link=shop_link,
        images=images,
        attributes=extras,
        notes=notes,
    )


def _read_csv(path: Path, delimiter: str | None) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        if delimiter is None:
            sample = fh.read(8192)
            fh.seek(0)
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
            except csv.Error:
                delimiter = ","
        # strict: a quote that is never closed is an error, not a field that swallows the
        # rest of the file
        reader = csv.DictReader(fh, delimiter=delimiter, strict=True)
        try:
            fieldnames = reader.fieldnames
        except csv.Error as e:
            raise FeedError(f"{path}: unreadable header ({e})") from e
        if not fieldnames or "id" not in {f.strip().lower() for f in fieldnames if f}:
            raise FeedError(f"{path}: no 'id' column in the header ({fieldnames})")
        last = reader.line_num
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                if "unexpected end of data" in str(e):
                    yield (
                        last + 1,
                        (
                            "a quoted field opened here is never closed; the rest of the file "
                            "was not read"
                        ),
                    )
                    return
                yield last + 1, f"unreadable row ({e})"  # e.g. a field over the size limit
                last = reader.line_num
                continue
            line = last = reader.line_num
            if bad := _undecoded(*(v for v in record.values() if isinstance(v, str))):
                yield line, bad
                continue
            n_header = len(fieldnames)
            if None in record:  # more fields than the header names
                extra = len(record[None])  # type: ignore[index]
                yield line, f"{n_header + extra} fields, header has {n_header}"
                continue
            if None in record.values():  # fewer fields: values may have shifted columns
                n_fields = sum(v is not None for v in record.values())
                yield line, f"{n_fields} fields, header has {n_header}"
                continue
            yield line, restore_row(record)  # '=x written by feed-from-gallery reads as =x


_UNDECODED = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of bad bytes
_SNIFF_BYTES = 1 << 16


def _undecoded(*texts: str) -> str | None:
    """A row error when a line holds bytes that are not UTF-8 (files are read leniently so that
    one bad byte costs its row, not the rest of the file)."""
    for text in texts:
        if m := _UNDECODED.search(text):
            return f"not UTF-8 text (byte 0x{ord(m.group()) - 0xDC00:02X})"
    return None


def _check_encoding(path: Path) -> None:
    """A file that is not UTF-8 from its start (UTF-16, Latin-1...) is refused as a whole."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    try:  # incremental: a character cut by the read size is not an error
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as e:
        raise FeedError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as fh:
        for line_no, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            if bad := _undecoded(text):
                yield line_no, bad
                continue
            try:
                record = json.loads(text, parse_constant=_no_constant)
            except json.JSONDecodeError as e:
                yield line_no, f"invalid JSON ({e.msg})"
                continue
            except (ValueError, RecursionError) as e:  # NaN, 5000-digit numbers, deep nesting
                reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
                yield line_no, f"invalid JSON ({reason})"
                continue
            if not isinstance(record, dict):
                yield line_no, "a JSON object is expected on each line"
                continue
            yield line_no, record


def read_feed(path: Path, roots: FileRoots | None = None) -> Iterator[FeedRow | RowError]:
    """Yield each record of a CSV/TSV/JSONL feed, or of a folder of product folders.

    Local image paths must lie inside ``roots`` (default: the feed's own folder).
    """
    path = Path(path)
    if path.is_dir():
        yield from read_folder(path, roots)
        return
    if not path.is_file():
        raise FeedError(f"{path}: no such feed file or folder")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            records = _read_jsonl(path)
        elif suffix in (".csv", ".tsv", ".txt"):
            records = _read_csv(path, "\t" if suffix == ".tsv" else None)
        else:
            raise FeedError(f"{path}: unknown feed type {suffix!r} (use .csv, .tsv or .jsonl)")
        _check_encoding(path)
        roots = roots or FileRoots.build([path.parent])  # one for the file: it caches its checks
        seen: set[tuple[str | None, str]] = set()
        for line, record in records:
            if isinstance(record, str):
                yield RowError(line, record)
                continue
            row = record_to_row(record, line, path.parent, roots)
            if isinstance(row, FeedRow):
                key = (row.seller, row.external_id)
                if key in seen:
                    yield RowError(
                        line, f"duplicate id {row.external_id!r} in this feed", row.external_id
                    )
                    continue
                seen.add(key)
            yield row
    except UnicodeDecodeError as e:
        raise FeedError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e


def read_folder(root: Path, roots: FileRoots | None = None) -> Iterator[FeedRow | RowError]:
    """One sub-folder per product; its image files (sorted by name) are the gallery.

    A symlinked file or folder that leads outside ``roots`` (default: ``root``) costs its row.
    """
    roots = roots or FileRoots.build([root])
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise FeedError(f"{root}: no product sub-folders found")
    for line, folder in enumerate(folders, start=1):
        try:
            images = sorted(
                str(roots.check(p))
                for p in folder.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        except FeedError as e:
            yield RowError(line, f"folder {folder.name!r}: {e}", folder.name)
            continue
        if not images:
            yield RowError(line, f"folder {folder.name!r} has no images", folder.name)
            continue
        title = re.sub(r"[-_]+", " ", folder.name).strip()
        yield FeedRow(line=line, external_id=folder.name, title=title, images=images)
