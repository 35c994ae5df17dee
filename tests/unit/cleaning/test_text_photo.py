"""Title + photo categorizer: `train/eval text --image-column`, fallbacks, the categorize stage.

Titles here say "shoes" for two classes (flats, heels) that only the photo tells apart (red vs
blue pixels), so a model that really uses the photo scores above the title-only one. A colour
embedder stands in for the backbone: the tests are about wiring, not about MobileNetV2.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from modiste.cleaning.photo_features import PhotoSpec
from modiste.cleaning.photo_head import PhotoHead
from modiste.cleaning.text import TextCategorizer, categorize_product
from modiste.training.text import SplitSpec, split_indices

COLOURS = {"flats": (200, 30, 30), "heels": (30, 30, 200), "shirt": (120, 120, 120)}


class ColourEmbedder:
    """Mean RGB and its spread: enough for a head to separate the made-up photos."""

    key = "colour-test"
    dim = 6

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        self.calls += len(images)
        out = []
        for im in images:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
            out.append(np.concatenate([a.mean(axis=(0, 1)), a.std(axis=(0, 1)) + 0.01]))
        return np.asarray(out, dtype=np.float32)


def _photo(path: Path, label: str, k: int) -> None:
    rng = np.random.default_rng(k)
    base = np.array(COLOURS[label], dtype=np.float32)
    px = np.clip(base + rng.normal(0, 25, (32, 32, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(px).save(path)


@pytest.fixture
def photo_csv(tmp_path: Path) -> Path:
    """60 photo rows (flats/heels share titles' words), 6 rows without a photo, 2 bad photos."""
    (tmp_path / "img").mkdir()
    rows: list[list[str]] = []
    brands = ("acme", "nordic", "kaze", "lumen", "sora")
    for k in range(60):
        label = ("flats", "heels", "shirt")[k % 3]
        noun = "shirt" if label == "shirt" else "shoes"
        title = f"{brands[k % 5]} women style{k} black {noun}"
        _photo(tmp_path / "img" / f"{k}.png", label, k)
        rows.append([title, label, f"img/{k}.png"])
    for k in range(6):
        rows.append([f"plain men tee{k} grey shirt", "shirt", ""])  # no photo: title only
    (tmp_path / "img" / "bad.jpg").write_bytes(b"\xff\xd8\xff this is not a jpeg")
    rows.append(["acme women broken black shoes", "flats", "img/bad.jpg"])
    rows.append(["acme women lost black shoes", "heels", "img/missing.jpg"])
    p = tmp_path / "products.csv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "type", "image_path"])
        w.writerows(rows)
    return p


@pytest.fixture
def colour_embedder(monkeypatch: pytest.MonkeyPatch) -> ColourEmbedder:
    emb = ColourEmbedder()
    monkeypatch.setattr(
        "modiste.training.text_photo.photo_embedder", lambda spec, settings=None, **kw: emb
    )
    return emb


def _cli(args: list[str]) -> Any:
    import modiste.cli.text  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    return CliRunner().invoke(app, args)


def test_train_and_eval_with_photos(
    photo_csv: Path, tmp_path: Path, colour_embedder: ColourEmbedder
) -> None:
    out, report_path = tmp_path / "model", tmp_path / "report.json"
    common = ["--data", str(photo_csv), "--text-column", "title", "--label-column", "type"]
    photo = ["--image-column", "image_path", "--feature-cache", str(tmp_path / "cache")]
    train = ["--data-dir", str(tmp_path / "d"), "train", "text", *common, "--out", str(out)]
    r = _cli([*train, "--test-size", "0.3", "--grouped", *photo])
    assert r.exit_code == 0, r.output
    assert "could not be used" in r.output  # the bad photo is reported, training went on
    assert (out / "photo.npz").is_file()
    meta = json.loads((out / "model.json").read_text())
    assert meta["photo"]["fusion"] in ("log", "linear") and meta["info"]["image_column"]
    assert meta["photo"]["info"]["validation"][0]["variant"] == "title only"
    calls = colour_embedder.calls
    evaluate = ["--data-dir", str(tmp_path / "d"), "eval", "text", "--model", str(out), *common]
    r = _cli([*evaluate, "--json", str(report_path), *photo])
    assert r.exit_code == 0, r.output
    report = json.loads(report_path.read_text())
    rows = report["photo_rows"]
    assert rows["n"] > 0 and rows["accuracy"] > rows["title_only_accuracy"]
    assert rows["accuracy"] >= 0.9
    assert rows["moved"]["n_fixed"] > rows["moved"]["n_broken"]
    assert report["split"] == {"seed": 0, "test_size": 0.3, "grouped": True}
    assert report["split_is_training_holdout"]
    # eval embedded only test rows, and the cache kept train/eval from embedding a photo twice
    assert colour_embedder.calls - calls < rows["n"] + 3


def test_rows_without_a_usable_photo_use_the_title(
    photo_csv: Path, tmp_path: Path, colour_embedder: ColourEmbedder
) -> None:
    from modiste.training.text_photo import read_text_photo_csv, train_text_photo_model

    model, bad = train_text_photo_model(
        photo_csv, "title", "type", "image_path", tmp_path / "m", split=SplitSpec(test_size=0.0)
    )
    reasons = " ".join(bad.values())
    assert "bad.jpg" in reasons and "missing.jpg" in reasons
    assert str(tmp_path) not in reasons  # names, not the user's folders
    rows = read_text_photo_csv(photo_csv, "title", "type", "image_path")
    assert rows.photos[-3] is None  # empty cell
    texts = ["plain men tee9 grey shirt", "acme women black shoes"]
    no_photo = np.full((2, ColourEmbedder.dim), np.nan, dtype=np.float32)
    assert np.allclose(model.predict_proba(texts, no_photo), model.predict_proba(texts))
    loaded = TextCategorizer.load(tmp_path / "m")
    assert loaded.photo is not None and loaded.photo.weight == model.photo.weight  # type: ignore[union-attr]
    red = ColourEmbedder().predict([Image.new("RGB", (8, 8), COLOURS["flats"])])
    blue = ColourEmbedder().predict([Image.new("RGB", (8, 8), COLOURS["heels"])])
    assert loaded.predict(["acme women black shoes"], red)[0][0] == "flats"
    assert loaded.predict(["acme women black shoes"], blue)[0][0] == "heels"


def test_title_only_folder_still_loads_and_drops_a_stale_photo_head(
    photo_csv: Path, tmp_path: Path, colour_embedder: ColourEmbedder
) -> None:
    from modiste.training.text import train_text_model
    from modiste.training.text_photo import train_text_photo_model

    out = tmp_path / "m"
    train_text_photo_model(photo_csv, "title", "type", "image_path", out, split=SplitSpec(0, 0.0))
    train_text_model(photo_csv, "title", "type", out, split=SplitSpec(0, 0.0))  # title only now
    assert not (out / "photo.npz").exists()
    assert TextCategorizer.load(out).photo is None


def test_grouped_split_keeps_copies_of_a_photo_together() -> None:
    texts = [f"title {i}" for i in range(40)]
    labels = ["a", "b"] * 20
    links: list[str | None] = [None] * 40
    links[0] = links[7] = links[22] = "same-bytes"  # one photo under three titles
    for seed in range(5):
        tr, te = split_indices(texts, labels, SplitSpec(seed, 0.3, grouped=True), links)
        sides = {0 in te, 7 in te, 22 in te}
        assert len(sides) == 1
        assert len(tr) + len(te) == 40
    # without links the grouped split is what it was before photos existed
    a = split_indices(texts, labels, SplitSpec(0, 0.3, grouped=True))
    b = split_indices(texts, labels, SplitSpec(0, 0.3, grouped=True), [None] * 40)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_photo_head_leaves_classes_it_never_saw_to_the_title() -> None:
    """A confident title for a class with no training photo (a watch) is not overruled."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (30, 4)) + 3, rng.normal(0, 1, (30, 4)) - 3])
    head = PhotoHead.fit(x, ["flats"] * 30 + ["heels"] * 30, 1.0, PhotoSpec())
    head.fusion, head.weight = "log", 0.5
    p_text = np.array([[0.01, 0.01, 0.98]])
    fused = head.fuse(p_text, ["flats", "heels", "watches"], x[:1])
    assert fused.argmax() == 2


def test_categorize_stage_uses_the_lead_photo(
    photo_csv: Path, tmp_path: Path, colour_embedder: ColourEmbedder, settings: Any
) -> None:
    from modiste.catalog.db import Database
    from modiste.catalog.feeds import FeedRow
    from modiste.catalog.importer import import_rows
    from modiste.catalog.schema import ImageRow, ProductRow
    from modiste.cleaning.enrich_stage import _fill_missing
    from modiste.imaging.store import ImageStore
    from modiste.pipeline.ingest import run_ingest
    from modiste.pipeline.stages import StageContext
    from modiste.training.text_photo import train_text_photo_model

    own = settings.model_dir / "text" / "product_type"  # the catalogue's own model wins
    model, _ = train_text_photo_model(
        photo_csv, "title", "type", "image_path", own, split=SplitSpec(0, 0.0)
    )
    red, blue, bad = tmp_path / "red.png", tmp_path / "blue.png", tmp_path / "bad.png"
    Image.new("RGB", (40, 40), COLOURS["flats"]).save(red)
    Image.new("RGB", (40, 40), COLOURS["heels"]).save(blue)
    Image.new("RGB", (40, 40), "white").save(bad)
    title = "acme women black shoes"
    db = Database(settings)
    db.migrate()
    import_rows(
        db,
        [
            FeedRow(line=2, external_id="r", title=title, images=[str(red), str(blue)]),
            FeedRow(line=3, external_id="b", title=title, images=[str(blue)]),
            FeedRow(line=4, external_id="n", title=title),  # no photo: the title decides
            FeedRow(line=5, external_id="x", title=title, images=[str(bad)]),
        ],
        source="test",
    )
    run_ingest(settings, db, stages=["store"])
    store = ImageStore(settings.images_dir)
    with db.session() as session:  # the stored file of "x" is broken after storing
        x_image = session.scalars(
            select(ImageRow).join(ProductRow).where(ProductRow.external_id == "x")
        ).one()
        assert x_image.content_hash is not None
        store.path_for(x_image.content_hash).write_bytes(b"not an image any more")
    ctx = StageContext(settings, db, store, cache={"text_photo_embedder": colour_embedder})
    _fill_missing(ctx)
    with db.session() as session:
        got = {
            p.external_id: (p.product_type, p.attributes["predicted"]["product_type"], p.gender)
            for p in session.scalars(select(ProductRow))
        }
    assert got["r"][0] == "flats" and "photo_image_id" in got["r"][1]  # first photo leads
    assert got["b"][0] == "heels"
    assert got["b"][2] == "Women"  # the shipped gender model still fills gender
    text_only = categorize_product(title, None, {"product_type": model})
    for key in ("n", "x"):  # no photo / unreadable photo: the title's own answer
        assert "photo_image_id" not in got[key][1]
        assert got[key][1]["confidence"] == round(text_only["product_type_confidence"], 4)


def _real_products(datasets_dir: Path) -> list[dict[str, str]]:
    with (datasets_dir / "fashion_products" / "products.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write_products(datasets_dir: Path, rows: list[dict[str, str]], dest: Path) -> Path:
    """``rows`` of the real products CSV at ``dest``, photo paths made absolute (empty stays)."""
    images = datasets_dir / "fashion_products"
    with dest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(
            {**r, "image_path": str(images / r["image_path"]) if r["image_path"] else ""}
            for r in rows
        )
    return dest


def _run_benchmark(name: str, *args: str) -> None:
    """``python -m benchmarks.NAME ARGS`` from the repository root; it must exit 0."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.realdata
def test_text_photo_benchmark_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """`python -m benchmarks.text_photo` on 90 real rows with photos (3 types), real backbone."""
    rows = _real_products(datasets_dir)
    kinds = ("Tshirts", "Casual Shoes", "Handbags")
    keep = [r for r in rows if r["image_path"] and r["articleType"] in kinds][:90]
    keep += [r for r in rows if not r["image_path"] and r["articleType"] in kinds][:30]
    data = _write_products(datasets_dir, keep, tmp_path / "products.csv")
    out = tmp_path / "text_photo.json"
    _run_benchmark("text_photo", "--data", str(data), "--c-grid", "0.1", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["n_rows_with_photo"] == 90
    for part in result["splits"]:
        names = [s["variant"] for s in part["steps"]]
        assert names[0].startswith("title only") and names[1].startswith("photo only")
        assert all(0.3 < s["accuracy"] <= 1 for s in part["steps"])


def test_eval_with_photos_scores_a_title_only_model_on_its_own_split(tmp_path: Path) -> None:
    """Photos shared across titles must not regroup the split a title-only model was trained on."""
    from modiste.training.text import evaluate_text_csv, train_text_model

    (tmp_path / "img").mkdir()
    for k in range(4):
        _photo(tmp_path / "img" / f"{k}.png", "shirt", k)
    data = tmp_path / "p.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "type", "image_path"])
        for k in range(80):  # 80 titles, 4 photos: linking them would pull rows across sides
            w.writerow(
                [f"brand{k} {('shirt', 'dress')[k % 2]} x{k}", "ab"[k % 2], f"img/{k % 4}.png"]
            )
    split = SplitSpec(0, 0.25, grouped=True)
    train_text_model(data, "title", "type", tmp_path / "m", split=split)
    plain = evaluate_text_csv(tmp_path / "m", data, "title", "type")
    with_photos = evaluate_text_csv(
        tmp_path / "m", data, "title", "type", image_column="image_path"
    )
    assert plain["n"] == with_photos["n"] == 20
    assert with_photos["photo_rows"]["note"] == "model has no photo head"


@pytest.mark.slow
@pytest.mark.realdata
def test_ingest_folds_in_real_photos_with_the_real_backbone(
    tmp_path: Path, datasets_dir: Path, settings: Any
) -> None:
    """A photo model trained into DATA_DIR/models/text reads real photos through the backbone."""
    from modiste.catalog.db import Database
    from modiste.catalog.feeds import FeedRow
    from modiste.catalog.importer import import_rows
    from modiste.catalog.schema import ProductRow
    from modiste.pipeline.ingest import run_ingest
    from modiste.training.text_photo import train_text_photo_model

    src = datasets_dir / "fashion_products" / "products.csv"
    with src.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["image_path"]]
    kinds = ("Tshirts", "Casual Shoes", "Handbags")
    picked = [r for k in kinds for r in [x for x in rows if x["articleType"] == k][:30]]
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "type", "image_path"])
        w.writerows(
            [r["productDisplayName"], r["articleType"], str(src.parent / r["image_path"])]
            for r in picked[1:]
        )
    own = settings.model_dir / "text" / "product_type"
    train_text_photo_model(data, "title", "type", "image_path", own, split=SplitSpec(0, 0.0))
    held = picked[0]  # a product the model never saw, with its real photo
    db = Database(settings)
    db.migrate()
    photo = tmp_path / "held.jpg"  # a feed's photo lives beside the feed
    photo.write_bytes((src.parent / held["image_path"]).read_bytes())
    import_rows(
        db,
        [FeedRow(line=2, external_id="p", title=held["productDisplayName"], images=[str(photo)])],
        source="test",
    )
    run_ingest(settings, db, stages=["store", "categorize"])
    with db.session() as session:
        product = session.scalars(select(ProductRow)).one()
        guess = product.attributes["predicted"]["product_type"]
    assert "photo_image_id" in guess
    assert guess["label"] == held["articleType"]


@pytest.mark.slow
@pytest.mark.realdata
def test_text_photo_tail_benchmark_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """`python -m benchmarks.text_photo_tail`, one epoch on 120 real photos of a pair and more."""
    rows = _real_products(datasets_dir)
    keep = [
        r
        for kind in ("Flats", "Heels", "Tshirts")
        for r in [r for r in rows if r["image_path"] and r["articleType"] == kind][:40]
    ]
    data = _write_products(datasets_dir, keep, tmp_path / "products.csv")
    out, cache = tmp_path / "tail.json", tmp_path / "cache"
    _run_benchmark(
        "text_photo_tail",
        *("--data", str(data), "--epochs", "1", "--cache", str(cache), "--json", str(out)),
    )
    result = json.loads(out.read_text())
    assert result["n_fit_photos"] + result["n_validation_photos"] <= 120
    (epoch,) = result["fine_tuned_epochs"]
    assert 0.3 < epoch["photo_accuracy"] <= 1 and 0.3 < epoch["fused_accuracy"] <= 1
    assert epoch["Flats/Heels"]["n"] > 0
    pairs = {r["pair"] for r in result["fine_tuned_pair_specialists"]}
    assert pairs == {"Flats/Heels"} == {r["pair"] for r in result["frozen_pair_specialists"]}
    assert list(cache.glob("maps17-*.npz"))  # the activations are cached for the next run
