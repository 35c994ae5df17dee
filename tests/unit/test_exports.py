"""CSV exports: cells a spreadsheet would run are neutralised, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from modiste.exports import (
    SafeDictWriter,
    SafeWriter,
    neutralise_cell,
    restore_cell,
    restore_row,
)


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1",
     "\r=1", "-", "+1 555 0100", "-inf"],
)  # fmt: skip
def test_formulas_get_a_quote(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell
    assert restore_cell(neutralise_cell(cell)) == cell


@pytest.mark.parametrize(
    "cell", ["-3.5", "+12", "-1e-3", ".5", "Tee", "a=b", "", "'quoted", 12, -3.5]
)
def test_numbers_and_plain_text_stay(cell: object) -> None:
    assert neutralise_cell(cell) == cell
    if isinstance(cell, str):
        assert restore_cell(cell) == cell


def test_writers_neutralise_every_cell() -> None:
    out = io.StringIO()
    SafeWriter(out).writerows([["=1+1", -3.5, "-3.5"], ["ok", "@x", 7]])
    dict_out = io.StringIO()
    w = SafeDictWriter(dict_out, fieldnames=["title", "price"])
    w.writeheader()
    w.writerows([{"title": "=cmd()", "price": "-4"}])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=1+1", "-3.5", "-3.5"],
        ["ok", "'@x", "7"],
    ]
    rows = list(csv.DictReader(io.StringIO(dict_out.getvalue())))
    assert rows == [{"title": "'=cmd()", "price": "-4"}]
    assert restore_row(rows[0]) == {"title": "=cmd()", "price": "-4"}


def test_csv_files_modiste_writes_read_back_as_they_were(tmp_path: Path) -> None:
    from modiste.evaluation.build_sets import _read, _write
    from modiste.evaluation.detection import DetectionItem, _read_csv
    from modiste.training.detector import write_image_list

    rows: list[dict[str, object]] = [{"image_path": "=cmd.jpg", "label": "-3.5"}]
    _write(tmp_path / "G.csv", ["image_path", "label"], rows)
    assert "'=cmd.jpg" in (tmp_path / "G.csv").read_text()
    assert _read(tmp_path / "G.csv") == [{"image_path": "=cmd.jpg", "label": "-3.5"}]
    item = DetectionItem(path=tmp_path / "@odd.jpg", boxes=np.zeros((0, 4)))
    write_image_list([item], tmp_path / "holdout.csv")
    assert "'@odd.jpg" in (tmp_path / "holdout.csv").read_text()
    assert _read_csv(tmp_path / "holdout.csv") == [{"image_path": "@odd.jpg", "annotated": "1"}]
