"""CSV files Modiste writes for people: no cell a spreadsheet would run as a formula.

A feed title such as ``=HYPERLINK("http://evil.example", "Click")`` ends up in the CSVs Modiste
writes (``modiste feed-from-gallery``, evaluation sets, image lists); opened in a spreadsheet it
would run. Every CSV writer goes through :class:`SafeWriter`/:class:`SafeDictWriter`, which
apply the OWASP rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'``. Numbers (``-3.5``, ``+1e3``, or ints and floats) stay numbers.

Modiste's own CSV readers call :func:`restore_row`, so a file it wrote reads back as it was.
JSON exports are left alone: JSON is not opened as a spreadsheet, and a tool that turns it into
CSV must apply the rule itself (see ``docs/decisions/feed-safety.md``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front if a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def restore_cell(value: str | None) -> str | None:
    """Undo :func:`neutralise_cell` (for reading back a CSV Modiste wrote)."""
    if value and value.startswith("'") and neutralise_cell(value[1:]) == value:
        return value[1:]
    return value


def restore_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A ``csv.DictReader`` row with every neutralised cell restored."""
    return {k: restore_cell(v) if isinstance(v, str) else v for k, v in row.items()}


class SafeWriter:
    """``csv.writer`` whose rows are neutralised cell by cell."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose rows (and header) are neutralised cell by cell."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: neutralise_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
