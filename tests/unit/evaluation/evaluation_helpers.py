"""Test helpers for the evaluation tests: small CSV files of rows.

Kept out of conftest.py so test modules can import them by a unique module name.
"""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """``header`` then ``rows`` at ``path`` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
