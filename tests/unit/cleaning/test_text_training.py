"""`train text` / `eval text` on a tiny CSV: deterministic splits, report fields, CLI wiring."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modiste.errors import FeedError
from modiste.training.text import SplitSpec, read_text_csv, split_indices

ROWS = [
    (f"{brand} {g} {colour} {kind}", kind, g)
    for brand in ("acme", "nordic", "kaze")
    for colour in ("blue", "red", "black", "white", "grey")
    for kind, g in (("shirt", "men"), ("dress", "women"), ("sneakers", "men"), ("skirt", "women"))
]


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    p = tmp_path / "titles.csv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "type", "gender"])
        w.writerows(ROWS)
        w.writerow(["", "shirt", "men"])  # skipped: empty title
        w.writerow(["acme men blue shirt", "shirt", "men"])  # exact duplicate title
    return p


def test_split_is_deterministic_stratified_and_grouped(csv_path: Path) -> None:
    texts, labels = read_text_csv(csv_path, "title", "type")
    assert len(texts) == len(ROWS) + 1
    a = split_indices(texts, labels, SplitSpec(seed=0, test_size=0.2))
    b = split_indices(texts, labels, SplitSpec(seed=0, test_size=0.2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    tr, te = a
    assert sorted({labels[i] for i in te}) == ["dress", "shirt", "skirt", "sneakers"]
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(texts)
    gtr, gte = split_indices(texts, labels, SplitSpec(seed=0, test_size=0.3, grouped=True))
    dup = [i for i, t in enumerate(texts) if t == "acme men blue shirt"]
    assert set(dup) <= set(gtr) or set(dup) <= set(gte)
    all_tr, all_te = split_indices(texts, labels, SplitSpec(test_size=0))
    assert len(all_tr) == len(texts) and len(all_te) == 0


def test_missing_column_is_a_feed_error(csv_path: Path) -> None:
    with pytest.raises(FeedError, match="no column"):
        read_text_csv(csv_path, "name", "type")


def test_cli_train_then_eval(csv_path: Path, tmp_path: Path) -> None:
    import modiste.cli.text  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    runner = CliRunner()
    out = tmp_path / "model"
    r = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path / "d"),
            "train",
            "text",
            "--data",
            str(csv_path),
            "--text-column",
            "title",
            "--label-column",
            "type",
            "--out",
            str(out),
            "--test-size",
            "0.25",
            "--pair-weight",
            "0.5",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (out / "model.npz").is_file()
    config = json.loads((out / "model.json").read_text())["config"]
    assert config["features"]["pair_weight"] == 0.5
    report_path = tmp_path / "report.json"
    r = runner.invoke(
        app,
        [
            "eval",
            "text",
            "--model",
            str(out),
            "--data",
            str(csv_path),
            "--text-column",
            "title",
            "--label-column",
            "type",
            "--json",
            str(report_path),
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(report_path.read_text())
    assert report["split"] == {"seed": 0, "test_size": 0.25, "grouped": False}
    assert 0 < report["n"] < len(ROWS)
    assert report["accuracy"] >= 0.9
    assert set(report) >= {"accuracy", "macro_f1", "n", "per_class", "top_confusions"}
