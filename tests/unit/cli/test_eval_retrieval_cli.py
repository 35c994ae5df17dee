"""`modiste eval retrieval --heldout`: held-out styles are the queries, every photo the gallery."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import modiste.cli.visual as visual_cli
from modiste.cli._apps import app
from modiste.cli.app import _load_commands

# Photos of products a (style s1, held out), c (style s2, trained on) and b (style s3, held out).
# c's photo sits between a's two photos, so it takes a's top-1 whenever it is in the gallery.
ROWS = [("a", "s1", [1, 0]), ("a", "s1", [0.8, 0.6]), ("c", "s2", [0.95, 0.31])]
ROWS += [("b", "s3", [0, 1]), ("b", "s3", [0.05, 1])]


class FakeEmbedder:
    name = "fake"
    recipe = SimpleNamespace(to_json=lambda: "{}")
    projection = SimpleNamespace(meta={"trained_groups": ["s2"]})

    def combine(self, cnn: np.ndarray, colour: np.ndarray, *args: Any, **kw: Any) -> np.ndarray:
        return cnn / np.linalg.norm(cnn, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    _load_commands()
    vectors = np.asarray([v for _, _, v in ROWS], dtype=np.float32)
    monkeypatch.setattr(visual_cli, "_embedder", lambda *a: FakeEmbedder())
    monkeypatch.setattr(
        visual_cli, "_parts", lambda emb, items, advance: (vectors[: len(items)], vectors)
    )


def test_heldout_queries_search_the_whole_catalog(tmp_path: Path) -> None:
    data = tmp_path / "gallery.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "style_id", "image_path"])
        w.writerows((p, s, f"{i}.jpg") for i, (p, s, _) in enumerate(ROWS))
    out = tmp_path / "r.json"
    args = ["--data-dir", str(tmp_path / "d"), "eval", "retrieval", "--data", str(data)]
    done = CliRunner().invoke(app, [*args, "--heldout", "--json", str(out)])
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text())
    assert report["heldout_groups"] == 2 and report["n_queries"] == 4
    assert report["recall_at_1"] == 0.5  # a's photos find the trained product c first
    assert report["heldout_gallery_only"]["recall_at_1"] == 1.0  # the old, smaller gallery
