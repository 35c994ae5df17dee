"""Copy-paste photos for the detector: cut-outs, placement, occlusion, and which photos get them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from modiste.cli._apps import app
from modiste.cli.app import _load_commands
from modiste.errors import FeedError
from modiste.evaluation.detection import DetectionItem, read_detection_set
from modiste.models.detector_head import HeadConfig, load_head
from modiste.training.detector import split_positions
from modiste.training.detector_paste import (
    PasteConfig,
    cut_out,
    occlude,
    paste_items,
    person_frame,
    place_box,
    read_catalog,
)

CLASSES = HeadConfig().classes


def _catalog(root: Path) -> Path:
    """A handbag (with a handle round a white hole), a belt, a cap and a T-shirt on white."""
    (root / "images").mkdir(parents=True)
    bag = Image.new("RGB", (64, 64), "white")
    d = ImageDraw.Draw(bag)
    d.ellipse([20, 8, 44, 36], outline=(90, 40, 20), width=4)
    d.rectangle([14, 26, 50, 56], fill=(90, 40, 20))
    bag.save(root / "images" / "1.jpg")
    belt = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(belt).rectangle([6, 28, 58, 36], fill=(20, 20, 20))
    belt.save(root / "images" / "2.jpg")
    cap = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(cap).pieslice([10, 16, 54, 56], 180, 360, fill=(200, 20, 20))
    cap.save(root / "images" / "3.jpg")
    Image.new("RGB", (64, 64), "blue").save(root / "images" / "4.jpg")
    rows = [
        "id,articleType,image_path",
        "1,Handbags,images/1.jpg",
        "2,Belts,images/2.jpg",
        "3,Caps,images/3.jpg",
        "4,Tshirts,images/4.jpg",
        "5,Handbags,",
    ]
    (root / "products.csv").write_text("\n".join(rows) + "\n")
    return root / "products.csv"


def _person() -> DetectionItem:
    boxes = np.array([[40, 40, 90, 100], [42, 100, 88, 170], [40, 170, 90, 185]], float)
    return DetectionItem(Path("p.jpg"), boxes, ["top", "bottom", "footwear"])


def test_the_catalog_maps_article_types_to_classes_and_placements(tmp_path: Path) -> None:
    products = read_catalog(_catalog(tmp_path), CLASSES)
    assert [(p.path.name, p.label, p.place) for p in products] == [
        ("1.jpg", "bag", "hand"),
        ("2.jpg", "accessory", "waist"),
        ("3.jpg", "hat", "head"),
    ]
    (tmp_path / "shirts.csv").write_text("id,articleType,image_path\n4,Tshirts,images/4.jpg\n")
    with pytest.raises(FeedError, match="no product photo"):
        read_catalog(tmp_path / "shirts.csv", CLASSES)


def test_a_cut_out_drops_the_white_background_and_the_white_inside_a_handle(
    tmp_path: Path,
) -> None:
    _catalog(tmp_path)
    cut = cut_out(Image.open(tmp_path / "images" / "1.jpg"), PasteConfig())
    assert cut is not None and cut.mode == "RGBA"
    alpha = np.asarray(cut)[..., 3]
    # Unsquashed to 3:4 (64 px wide becomes 48) and cropped to the bag: ~27 x 48 pixels.
    assert 24 <= cut.width <= 30 and 44 <= cut.height <= 50
    assert alpha[-8, cut.width // 2] == 255  # the bag's body
    assert alpha[6, cut.width // 2] < 40  # the white seen through the handle
    assert alpha[0, 0] < 40 and alpha[-1, -1] < 200  # corners: background, soft edge
    street = Image.new("RGB", (64, 64), (90, 110, 130))
    assert cut_out(street, PasteConfig()) is None


def test_the_person_frame_comes_from_the_garment_boxes() -> None:
    item = _person()
    frame = person_frame(item.boxes, item.labels)
    assert frame is not None
    assert frame.top == 40 and frame.waist == 100 and frame.torso == (40, 90)
    assert frame.height == pytest.approx(145 / 0.82)
    assert frame.head_x == 65
    assert person_frame(np.array([[0, 0, 5, 5.0]]), ["footwear"]) is None


def test_products_are_placed_where_they_are_worn() -> None:
    item = _person()
    frame = person_frame(item.boxes, item.labels)
    assert frame is not None
    rng = np.random.default_rng(0)
    for _ in range(20):
        belt = place_box(frame, "waist", (0.7, 1.0), 5.0, (160, 240), rng)
        assert belt is not None
        assert abs((belt[0] + belt[2]) / 2 - 65) <= 1 and abs((belt[1] + belt[3]) / 2 - 100) < 5
        assert 0.7 * 50 - 1 <= belt[2] - belt[0] <= 50 + 1
        cap = place_box(frame, "head", (0.09, 0.12), 1.5, (160, 240), rng)
        assert cap is not None and cap[3] < frame.top and abs((cap[0] + cap[2]) / 2 - 65) < 7
        bag = place_box(frame, "hand", (0.14, 0.24), 0.8, (160, 240), rng)
        assert bag is not None
        cy = (bag[1] + bag[3]) / 2
        assert frame.top + 0.3 * frame.height <= cy <= frame.top + 0.52 * frame.height
        # Beside the body: overlapping or outside one edge of the torso.
        assert bag[0] <= 40 + 0.1 * (bag[2] - bag[0]) + 1 or bag[2] >= 90 - 0.1 * (bag[2] - bag[0])
        assert bag[0] >= 0 and bag[2] <= 160
    # A cap above the top of a photo cropped at the shoulders does not fit.
    low = person_frame(np.array([[40, 5, 90, 100], [40, 100, 90, 230.0]]), ["top", "bottom"])
    assert low is not None and place_box(low, "head", (0.1, 0.1), 1.5, (160, 240), rng) is None


def test_boxes_the_product_hides_are_dropped_or_clipped() -> None:
    covered = np.zeros((100, 100), bool)
    covered[10:50, 0:30] = True  # the pasted product
    boxes = np.array(
        [
            [5, 15, 25, 45],  # wholly hidden: dropped
            [20, 10, 60, 50],  # its left quarter hidden top to bottom: clipped to x1 = 30
            [0, 40, 40, 90],  # a corner hidden: no whole row or column, kept as it was
            [60, 60, 90, 90],  # untouched
            [0, 10, 36, 50],  # 30 of its 36 columns hidden (83 %): dropped
        ],
        float,
    )
    kept, labels = occlude(boxes, ["bag", "top", "bottom", "footwear", "dress"], covered, 0.6)
    assert labels == ["top", "bottom", "footwear"]
    np.testing.assert_array_equal(kept, [[30, 10, 60, 50], [0, 40, 40, 90], [60, 60, 90, 90]])


def test_pasted_photos_get_the_product_box_and_are_reproducible(tmp_path: Path) -> None:
    products = read_catalog(_catalog(tmp_path / "cat"), CLASSES)
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (160, 240), (120, 130, 140)).save(photo)
    item = DetectionItem(photo, _person().boxes, _person().labels)
    first = paste_items([item], products, tmp_path / "a", PasteConfig(per_image=3, seed=1))
    again = paste_items([item], products, tmp_path / "b", PasteConfig(per_image=3, seed=1))
    other = paste_items([item], products, tmp_path / "c", PasteConfig(per_image=3, seed=2))
    assert len(first) == 3 and [it.path.name for it in first] == ["p-0.jpg", "p-1.jpg", "p-2.jpg"]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        assert a.labels == b.labels
        assert np.array_equal(np.asarray(Image.open(a.path)), np.asarray(Image.open(b.path)))
    assert any(not np.array_equal(a.boxes, c.boxes) for a, c in zip(first, other, strict=True))
    original = np.asarray(Image.open(photo), dtype=np.int16)
    for it in first:
        assert it.labels[-1] in {"bag", "accessory", "hat"}
        x1, y1, x2, y2 = (int(v) for v in it.boxes[-1])
        diff = np.abs(np.asarray(Image.open(it.path), dtype=np.int16) - original).max(axis=2) > 40
        ys, xs = np.nonzero(diff)
        # The product's pixels (what changed, beyond JPEG noise) fill its box.
        assert abs(xs.min() - x1) <= 2 and abs(xs.max() + 1 - x2) <= 2
        assert abs(ys.min() - y1) <= 2 and abs(ys.max() + 1 - y2) <= 2


def _street_set(root: Path, n: int = 10) -> tuple[Path, Path]:
    """``n`` annotated photos of a made-up person (top, bottom, shoes), CCP's layout."""
    (root / "images").mkdir(parents=True)
    images, boxes = ["image_id,image_path,annotated"], ["image_path,label,x1,y1,x2,y2"]
    for i in range(n):
        im = Image.new("RGB", (128, 192), (110, 120, 100 + i))
        d = ImageDraw.Draw(im)
        d.rectangle([40, 40, 88, 100], fill="red")
        d.rectangle([44, 100, 84, 170], fill="navy")
        im.save(root / "images" / f"{i}.jpg")
        images.append(f"{i},images/{i}.jpg,1")
        boxes.append(f"images/{i}.jpg,shirt,40,40,88,100")
        boxes.append(f"images/{i}.jpg,pants,44,100,84,170")
        boxes.append(f"images/{i}.jpg,shoes,44,170,84,182")
    (root / "images.csv").write_text("\n".join(images) + "\n")
    (root / "boxes.csv").write_text("\n".join(boxes) + "\n")
    return root / "images.csv", root / "boxes.csv"


def test_train_detector_pastes_only_on_the_photos_it_trains_on(tmp_path: Path) -> None:
    _load_commands()
    images, boxes = _street_set(tmp_path / "ccp")
    catalog = _catalog(tmp_path / "catalog")
    out, report_path = tmp_path / "head.npz", tmp_path / "report.json"
    holdout, cache = tmp_path / "held.csv", tmp_path / "cache"
    args = ["--holdout-fraction", "0.2", "--val-fraction", "0.25", "--epochs", "1"]
    args += ["--batch-size", "4", "--width", "16", "--input-width", "64", "--input-height", "96"]
    args += ["--paste-catalog", str(catalog), "--paste-per-image", "2", "--paste-seed", "3"]
    args += ["--images", str(images), "--boxes", str(boxes), "--out", str(out)]
    args += ["--holdout-csv", str(holdout), "--report", str(report_path), "--cache-dir", str(cache)]
    data = str(tmp_path / "data")
    result = CliRunner().invoke(app, ["--data-dir", data, "train", "detector", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(report_path.read_text())
    # 10 photos: 2 held out, 2 of the other 8 for validation, 6 trained on, 2 pastes each.
    assert (report["n_held_out"], report["n_validation"], report["n_train"]) == (2, 2, 6)
    assert report["n_pasted"] == 12
    held = {line.split(",")[0].split("/")[-1][:-4] for line in holdout.read_text().splitlines()[1:]}
    items = read_detection_set(images, boxes, "label", CLASSES)
    train = sorted((it for it in items if it.path.stem not in held), key=lambda it: str(it.path))
    fit, val = split_positions(len(train), 0.25, 0)
    fit_stems = {train[i].path.stem for i in fit}
    pasted = {p.name.split("-")[0] for p in cache.glob("paste-*/*.jpg")}
    assert pasted == fit_stems
    assert not pasted & held and not pasted & {train[i].path.stem for i in val}
    _, cfg = load_head(out)
    assert cfg.extra["paste_csv"] == "products.csv" and cfg.extra["n_pasted"] == 12
    assert cfg.extra["paste_seed"] == 3
