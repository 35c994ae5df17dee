"""The street → packshot set builder on a tiny synthetic tree (no real photos needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from evaluation_helpers import write_csv

from modiste.errors import ConfigError
from modiste.evaluation.build_sets import ARTICLE_TO_COARSE, build_crossdomain
from modiste.evaluation.retrieval import load_items

ARTICLES = ("Tshirts", "Sweaters", "Jackets", "Jeans", "Heels", "Handbags", "Belts", "Dresses")


def _tree(root: Path) -> Path:
    """CCP boxes and a catalog where ids 2k and 2k+1 share one photo's bytes (a colour variant)."""
    ds = root / "ds"
    write_csv(
        ds / "ccp_street" / "boxes.csv",
        ["image_path", "label", "coarse", "x1", "y1", "x2", "y2"],
        [
            [f"images/{i}.jpg", fine, coarse, 0, 0, 5, 5]
            for i in range(20)
            for fine, coarse in (("sweater", "top"), ("purse", "bag"), ("dress", "dress"))
        ],
    )
    images = ds / "fashion_products" / "images"
    images.mkdir(parents=True)
    rows: list[list[object]] = []
    for i in range(160):
        article = ARTICLES[(i // 2) % len(ARTICLES)]
        (images / f"{i}.jpg").write_bytes(f"photo {i // 2}".encode())
        rows.append([i, f"Item {i}", article, f"images/{i}.jpg"])
    # one photo filed under two articles that map to different classes: a labelling error
    (images / "900.jpg").write_bytes(b"mislabelled")
    (images / "901.jpg").write_bytes(b"mislabelled")
    rows += [[900, "T", "Tshirts", "images/900.jpg"], [901, "J", "Jeans", "images/901.jpg"]]
    rows.append([902, "No photo", "Tshirts", ""])
    write_csv(
        ds / "fashion_products" / "products.csv",
        ["id", "productDisplayName", "articleType", "image_path"],
        rows,
    )
    return ds


def _article(path: Path) -> str:
    return ARTICLES[(int(path.stem) // 2) % len(ARTICLES)]


def test_packshot_sets_group_identical_photos_and_map_labels(tmp_path: Path) -> None:
    ds = _tree(tmp_path)
    out = tmp_path / "sets"
    manifest = build_crossdomain(ds, out, seed=0, catalog="fashion_products")
    assert manifest == build_crossdomain(ds, tmp_path / "again", seed=0, catalog="fashion_products")
    g = load_items(out / "G.csv", "label")
    t = load_items(out / "train_catalog.csv", "label")
    # byte-identical photos under other ids are on one side of the split, never both
    assert g and t and not {i.group for i in g} & {i.group for i in t}
    assert {i.path.stem for i in g}.isdisjoint({i.path.stem for i in t})
    for side in (g, t):
        groups = {i.group for i in side}
        stems = {int(i.path.stem) for i in side}
        assert all((s ^ 1) in stems for s in stems)  # both copies of a pair stay together
        assert len(groups) * 2 == len(side)
    # articles mapped as CCP maps its tags; belts and dresses left out; the mislabelled pair too
    for it in g + t:
        assert it.label == ARTICLE_TO_COARSE[_article(it.path)]
        assert _article(it.path) not in ("Belts", "Dresses")
    assert {i.label for i in g + t} == {"top", "outerwear", "bottom", "footwear", "bag"}
    assert ARTICLE_TO_COARSE["Sweaters"] == "top" and ARTICLE_TO_COARSE["Jackets"] == "outerwear"
    assert {"900", "901"}.isdisjoint({i.path.stem for i in g + t})
    assert manifest["left_out"] == {"unmapped": 40, "conflicting_copies": 2}
    # queries: CCP crops of the five classes only (dress is not a catalog class here)
    q = load_items(out / "Q.csv", "label")
    assert {i.label for i in q} == {"top", "bag"}
    assert {i.path for i in q}.isdisjoint(
        {i.path for i in load_items(out / "train_ccp.csv", "label")}
    )


def test_packshot_distractors_stay_in_the_gallery(tmp_path: Path) -> None:
    ds = _tree(tmp_path)
    build_crossdomain(ds, tmp_path / "d", seed=0, catalog="fashion_products", distractors=True)
    g = load_items(tmp_path / "d" / "G.csv", "label")
    t = load_items(tmp_path / "d" / "train_catalog.csv", "label")
    assert "accessory" in {i.label for i in g}  # belts compete with the garments
    assert "accessory" not in {i.label for i in t}  # but nothing is taught the class
    build_crossdomain(ds, tmp_path / "plain", seed=0, catalog="fashion_products")
    plain = load_items(tmp_path / "plain" / "train_catalog.csv", "label")
    assert [i.path.resolve() for i in t] == [i.path.resolve() for i in plain]  # none moved


def test_unknown_catalog_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid: clothing_dataset, fashion_products"):
        build_crossdomain(_tree(tmp_path), tmp_path / "x", catalog="myntra")


def test_street_photos_split_alike_for_both_catalogs(tmp_path: Path) -> None:
    """A model trained on one protocol's street half never meets its photos as the other's query."""
    ds = _tree(tmp_path)
    extra = [[f"images/{i}.jpg", "purse", "bag", 0, 0, 5, 5] for i in range(20, 40)]  # bag only
    with (ds / "ccp_street" / "boxes.csv").open("a", newline="") as f:
        csv.writer(f).writerows(extra)
    write_csv(
        ds / "clothing_dataset" / "labels.csv",
        ["image_path", "label", "kids", "sender_id", "split"],
        [[f"images/{i}.jpg", "Shoes", "False", i % 6, ""] for i in range(12)],
    )
    build_crossdomain(ds, tmp_path / "old", seed=0)
    build_crossdomain(ds, tmp_path / "new", seed=0, catalog="fashion_products")

    def photos(name: str) -> set[Path]:
        return {i.path.resolve() for i in load_items(tmp_path / name, "label")}

    assert photos("old/train_ccp.csv").isdisjoint(photos("new/Q.csv"))
    assert photos("new/train_ccp.csv").isdisjoint(photos("old/Q.csv"))
    assert any(int(p.stem) >= 20 for p in photos("new/Q.csv") | photos("new/train_ccp.csv"))
