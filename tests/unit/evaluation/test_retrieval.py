from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from evaluation_helpers import write_csv

from modiste.errors import ConfigError
from modiste.evaluation.build_sets import build_crossdomain
from modiste.evaluation.retrieval import (
    crossdomain_metrics,
    grouped_split,
    load_items,
    same_item_metrics,
    same_item_scores_metrics,
)


def test_same_item_perfect_and_known_case() -> None:
    # a, a close together; b, b close together; c alone (not a query)
    v = np.asarray([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99], [-1, 0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    m = same_item_metrics(v, ["a", "a", "b", "b", "c"])
    assert m["n_queries"] == 4 and m["recall_at_1"] == 1.0 and m["map"] == 1.0
    # each partner sits behind impostors: ranks 2, 2, 3, 3 → AP 1/2, 1/2, 1/3, 1/3
    w = np.asarray([[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9]], dtype=np.float32)
    m = same_item_metrics(w / np.linalg.norm(w, axis=1, keepdims=True), ["a", "b", "b", "a"])
    assert m["recall_at_1"] == 0.0 and m["recall_at_5"] == 1.0
    assert m["map"] == pytest.approx(5 / 12)


def test_same_item_query_mask_keeps_unscored_products_as_distractors() -> None:
    # Products a and b are scored; c is not, but its photo sits closer to a's second photo than
    # a's first does, so it steals a's top-1 only when it stays in the gallery.
    v = np.asarray([[1, 0], [0.8, 0.6], [0.95, 0.31], [0, 1], [0.05, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = ["a", "a", "c", "b", "b"]
    scored = np.asarray([True, True, False, True, True])
    full = same_item_metrics(v, labels, query_mask=scored)
    alone = same_item_metrics(v[scored], [lab for lab, s in zip(labels, scored, strict=True) if s])
    assert full["n_queries"] == alone["n_queries"] == 4
    assert alone["recall_at_1"] == 1.0
    assert full["recall_at_1"] == 0.5  # both photos of a find c's photo first


def test_same_item_from_a_score_matrix_ranks_as_from_vectors() -> None:
    """The score-matrix form (scores that are not one dot product) ranks exactly as the vector
    form does on a dot-product matrix, and leaves the caller's matrix as it was."""
    v = np.asarray([[1, 0], [0.8, 0.6], [0.95, 0.31], [0, 1], [0.05, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = ["a", "a", "c", "b", "b"]
    scored = np.asarray([True, True, False, True, True])
    sims = v @ v.T
    before = sims.copy()
    assert same_item_scores_metrics(sims, labels, query_mask=scored) == same_item_metrics(
        v, labels, query_mask=scored
    )
    np.testing.assert_array_equal(sims, before)


def test_crossdomain_precision_macro() -> None:
    g = np.eye(3, dtype=np.float32)[[0] * 10 + [1] * 10 + [2] * 10]
    q = np.eye(3, dtype=np.float32)[[0, 1, 1]]
    m = crossdomain_metrics(q, ["x", "y", "z"], g, ["x"] * 10 + ["y"] * 10 + ["z"] * 10)
    assert m["per_label"]["x"]["precision_at_10"] == 1.0
    assert m["per_label"]["z"]["precision_at_10"] == 0.0
    assert m["precision_at_10"] == pytest.approx(2 / 3)


def test_grouped_split_has_no_leak() -> None:
    groups = [f"s{i % 7}" for i in range(50)]
    train, test = grouped_split(groups, 0.5, seed=3)
    assert not {groups[i] for i in np.flatnonzero(train)} & {
        groups[i] for i in np.flatnonzero(test)
    }
    assert train.any() and test.any()


def test_load_items_paths_boxes_and_errors(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "q.csv",
        ["image_path", "label", "x1", "y1", "x2", "y2"],
        [["a.jpg", "top", 1, 2, 3, 4], ["b.jpg", "dress", "", "", "", ""]],
    )
    items = load_items(tmp_path / "q.csv", "label")
    assert items[0].path == tmp_path / "a.jpg" and items[0].box is not None and items[1].box is None
    with pytest.raises(ConfigError):
        load_items(tmp_path / "q.csv", "product_id")
    write_csv(tmp_path / "none.csv", ["image_path", "label"], [])
    with pytest.raises(ConfigError, match="no rows"):
        load_items(tmp_path / "none.csv", "label")
    write_csv(tmp_path / "bad.csv", ["image_path", "label", "x1", "y1", "x2", "y2"],
           [["a.jpg", "top", "a", 2, 3, 4]])  # fmt: skip
    with pytest.raises(ConfigError, match="line 2: bad box"):
        load_items(tmp_path / "bad.csv", "label")


def test_build_crossdomain_is_seeded_and_disjoint(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    write_csv(
        ds / "ccp_street" / "boxes.csv",
        ["image_path", "label", "coarse", "x1", "y1", "x2", "y2"],
        [[f"images/{i}.jpg", "t", c, 0, 0, 5, 5] for i in range(20) for c in ("top", "bag")],
    )
    write_csv(
        ds / "clothing_dataset" / "labels.csv",
        ["image_path", "label", "kids", "sender_id", "split"],
        [
            [f"images/{i}.jpg", lab, "False", i % 6, ""]
            for i in range(30)
            for lab in ("Shoes", "Hat")
        ][:30],
    )
    a = build_crossdomain(ds, tmp_path / "a", seed=1)
    b = build_crossdomain(ds, tmp_path / "b", seed=1)
    assert a == b
    q = load_items(tmp_path / "a" / "Q.csv", "label")
    assert {i.label for i in q} == {"top"}  # bags are not a query class
    train = {i.path for i in load_items(tmp_path / "a" / "train_ccp.csv", "label")}
    assert not train & {i.path for i in q}
    g = list(csv.DictReader((tmp_path / "a" / "G.csv").open()))
    t = list(csv.DictReader((tmp_path / "a" / "train_clothing.csv").open()))
    assert {r["label"] for r in g} <= {"footwear"}
    assert not {r["sender_id"] for r in g} & {r["sender_id"] for r in t}
