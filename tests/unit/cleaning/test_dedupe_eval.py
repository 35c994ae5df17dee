"""Pairwise duplicate metrics, the eval on a tiny generated CSV, and the two CLI commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from dedupe_helpers import altered, jpeg, photo
from typer.testing import CliRunner

from modiste.errors import FeedError
from modiste.evaluation.dedupe import closure, evaluate_dedupe, pairwise_scores, true_pairs


def test_pairwise_scores_and_closure() -> None:
    truth = {("a", "b"), ("a", "c"), ("b", "c")}
    predicted = closure([("a", "b"), ("b", "c"), ("d", "e")])
    assert predicted == {("a", "b"), ("a", "c"), ("b", "c"), ("d", "e")}
    s = pairwise_scores(predicted, truth)
    assert s["precision"] == pytest.approx(0.75) and s["recall"] == 1.0
    assert s["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert pairwise_scores(set(), truth)["f1"] == 0.0
    assert true_pairs([("x", "g1"), ("y", "g1"), ("z", "g2")]) == {("x", "y")}


def make_set(root: Path) -> Path:
    """3 originals x 2 altered copies + 4 distractors, as make_dedupe_set writes them."""
    rows = []
    for g, seed in enumerate((1, 2, 3)):
        for k, kind in enumerate(("original", "resize", "repad")):
            name = f"g{g}_{k}.jpg"
            (root / name).write_bytes(jpeg(altered(photo(seed), kind)))
            rows.append((name, f"g{g}"))
    for d, seed in enumerate((10, 11, 12, 13)):
        (root / f"d{d}.jpg").write_bytes(jpeg(photo(seed)))
        rows.append((f"d{d}.jpg", f"d{d}"))
    path = root / "dups.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([("image_path", "group_id"), *rows])
    return path


def test_evaluate_dedupe_on_generated_images(tmp_path: Path) -> None:
    report = evaluate_dedupe(make_set(tmp_path))
    assert report["n_images"] == 13 and report["n_true_pairs"] == 9
    assert report["f1"] == 1.0 and report["precision"] == 1.0
    assert report["seconds_per_1000"] > 0
    assert report["settings"]["accept"] == pytest.approx(0.9, abs=0.1)


def test_evaluate_dedupe_rejects_a_bad_csv(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("path,label\na,b\n")
    with pytest.raises(FeedError):
        evaluate_dedupe(bad)


def test_cli_eval_and_dedupe(tmp_path: Path) -> None:
    from modiste.cli import dedupe as _  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    data = make_set(tmp_path)
    out = tmp_path / "report.json"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path / "d"),
            "eval",
            "dedupe",
            "--data",
            str(data),
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["f1"] == 1.0

    items = tmp_path / "items.csv"
    with items.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("image_path", "seller", "product_id", "price"))
        w.writerow(("g0_0.jpg", "alpha", "A1", "10"))
        w.writerow(("g0_2.jpg", "beta", "B1", "12.5"))
        w.writerow(("d0.jpg", "beta", "B2", ""))
    found = tmp_path / "found.json"
    res = runner.invoke(app, ["dedupe", "--items", str(items), "--json", str(found)])
    assert res.exit_code == 0, res.output
    report = json.loads(found.read_text())
    assert [m["kind"] for m in report["matches"]] == ["same_item_other_seller"]
    (group,) = report["offer_groups"]
    assert {(o["seller"], o["price"]) for o in group["offers"]} == {("alpha", 10.0), ("beta", 12.5)}
    assert runner.invoke(app, ["dedupe"]).exit_code != 0
