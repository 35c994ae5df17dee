"""Detection scoring: VOC AP, label mapping, the detection-set reader and the drawn sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modiste.domain import Box, Garment
from modiste.errors import FeedError
from modiste.evaluation.detection import (
    DetectionItem,
    average_precision,
    draw_grid,
    evaluate_detections,
    map_label,
    read_detection_set,
    read_tag_set,
    run_detection_eval,
)
from modiste.models.detector import DEFAULT_CLASSES

CLASSES = ("top", "footwear")


def _item(boxes: list[list[float]], labels: list[str]) -> DetectionItem:
    return DetectionItem(Path("x.jpg"), np.asarray(boxes, float).reshape(-1, 4), labels)


def _g(label: str, score: float, *xy: float) -> Garment:
    return Garment(label, score, Box(*xy))


def test_ap_all_point_interpolation() -> None:
    # TP, FP, TP over 2 true boxes: precision envelope 1 up to recall .5, 2/3 up to 1.
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == (
        pytest.approx(0.5 + 0.5 * 2 / 3)
    )
    assert average_precision(np.array([]), np.array([])) == 0.0


def test_perfect_and_imperfect_detections() -> None:
    truths = [_item([[0, 0, 10, 10], [0, 20, 10, 30]], ["top", "footwear"]), _item([], [])]
    perfect = [[_g("top", 0.9, 0, 0, 10, 10), _g("footwear", 0.8, 0, 20, 10, 30)], []]
    r = evaluate_detections(perfect, truths, CLASSES)
    assert r["map50"] == 1.0 and r["recall50"] == 1.0 and r["n_images"] == 2
    # A confident false positive on the empty image, a duplicate and a wrong class.
    noisy = [
        [_g("top", 0.5, 0, 0, 10, 10), _g("top", 0.4, 0, 0, 10, 11), _g("top", 0.3, 0, 20, 10, 30)],
        [_g("top", 0.9, 0, 0, 10, 10)],
    ]
    r = evaluate_detections(noisy, truths, CLASSES)
    assert r["per_class"] == {"top": pytest.approx(0.5), "footwear": 0.0}
    assert r["map50"] == pytest.approx(0.25) and r["recall50"] == 0.5
    assert r["classes_present"] == ["top", "footwear"]


def test_classes_without_truth_are_not_averaged() -> None:
    r = evaluate_detections(
        [[_g("footwear", 0.9, 0, 0, 5, 5)]], [_item([[0, 0, 10, 10]], ["top"])], CLASSES
    )
    assert list(r["per_class"]) == ["top"] and r["map50"] == 0.0


def test_iou_threshold() -> None:
    truths = [_item([[0, 0, 10, 10]], ["top"])]
    half = [[_g("top", 0.9, 0, 0, 10, 5)]]  # IoU 0.5 exactly counts
    assert evaluate_detections(half, truths, CLASSES)["map50"] == 1.0
    less = [[_g("top", 0.9, 0, 0, 10, 4.9)]]
    assert evaluate_detections(less, truths, CLASSES)["map50"] == 0.0


def test_label_mapping() -> None:
    c = DEFAULT_CLASSES
    assert map_label("hat", c) == "hat" and map_label("Sunglasses", c) == "accessory"
    assert map_label("socks", c) == "accessory" and map_label("tights", c) is None
    assert map_label("coat", c) == "outerwear" and map_label("footwear", c) == "footwear"
    assert map_label("legwear", c) is None and map_label("unheard", c) is None
    assert map_label("hat", ("top",)) is None


def test_reader_keeps_annotated_images_and_maps_labels(tmp_path: Path) -> None:
    (tmp_path / "images.csv").write_text(
        "image_id,image_path,annotated\n1,im/1.jpg,1\n2,im/2.jpg,0\n3,im/3.jpg,1\n"
    )
    (tmp_path / "boxes.csv").write_text(
        "image_path,label,coarse,x1,y1,x2,y2\n"
        "im/1.jpg,hat,accessory,1,2,3,4\n"
        "im/1.jpg,tights,legwear,1,2,3,4\n"
        "im/1.jpg,shoes,footwear,5,6,7,8\n"
        "im/2.jpg,shoes,footwear,5,6,7,8\n"
    )
    items = read_detection_set(
        tmp_path / "images.csv", tmp_path / "boxes.csv", "label", DEFAULT_CLASSES
    )
    assert [it.path.name for it in items] == ["1.jpg", "3.jpg"]
    assert items[0].labels == ["hat", "footwear"] and items[0].boxes.tolist()[1] == [5, 6, 7, 8]
    assert items[1].labels == [] and items[1].boxes.shape == (0, 4)
    coarse = read_detection_set(
        tmp_path / "images.csv", tmp_path / "boxes.csv", "coarse", DEFAULT_CLASSES
    )
    assert coarse[0].labels == ["accessory", "footwear"]
    with pytest.raises(FeedError, match="no column"):
        read_detection_set(tmp_path / "images.csv", tmp_path / "boxes.csv", "fine", DEFAULT_CLASSES)


def test_tag_reader_gives_class_presence_of_unannotated_images(tmp_path: Path) -> None:
    (tmp_path / "images.csv").write_text(
        "image_id,image_path,annotated\n1,im/1.jpg,1\n2,im/2.jpg,0\n3,im/3.jpg,0\n4,im/4.jpg,0\n"
    )
    (tmp_path / "tags.csv").write_text(
        "image_id,tag,source\n"
        "1,shoes,pixel-level\n"  # annotated: its boxes teach it, not its tags
        "2,wedges,image-level\n"
        "2,belt,image-level\n"
        "2,tights,image-level\n"  # not a class: says nothing
        "2,sunglasses,image-level\n"  # a second accessory
        "2,belt,image-level\n"  # a repeated tag counts once
        "3,tights,image-level\n"  # tagged, but with no class: every class absent
    )
    paths, present = read_tag_set(tmp_path / "images.csv", tmp_path / "tags.csv", DEFAULT_CLASSES)
    assert [p.name for p in paths] == ["2.jpg", "3.jpg"]  # 4 has no tags at all
    named = [{c: int(v) for c, v in zip(DEFAULT_CLASSES, row, strict=True) if v} for row in present]
    assert named == [{"footwear": 1, "accessory": 2}, {}]
    (tmp_path / "bad.csv").write_text("image_id,label\n2,shoes\n")
    with pytest.raises(FeedError, match="'tag'"):
        read_tag_set(tmp_path / "images.csv", tmp_path / "bad.csv", DEFAULT_CLASSES)


def test_run_eval_draws_a_sample(tmp_path: Path) -> None:
    items = [_item([[2, 2, 20, 30]], ["top"]), _item([[5, 5, 15, 15]], ["footwear"])]
    seen: list[int] = []

    def predict(images: list[Image.Image]) -> list[list[Garment]]:
        return [[_g("top", 0.9, 2, 2, 20, 30)] for _ in images]

    png = tmp_path / "r.png"
    r = run_detection_eval(
        predict,
        items,
        CLASSES,
        load=lambda p: Image.new("RGB", (40, 60)),
        batch_size=1,
        sample=1,
        png_path=png,
        on_batch=seen.append,
    )
    assert seen == [1, 1] and r["per_class"] == {"top": 1.0, "footwear": 0.0}
    with Image.open(png) as im:
        assert im.height == 320  # one tile


def test_draw_grid_tiles(tmp_path: Path) -> None:
    images = [Image.new("RGB", (40, 60))] * 7
    preds = [[_g("top", 0.9, 1, 1, 30, 30), _g("top", 0.1, 1, 1, 5, 5)]] * 7
    items = [_item([[1, 1, 30, 30]], ["top"])] * 7
    with Image.open(draw_grid(images, preds, items, tmp_path / "g.png", columns=3)) as im:
        assert im.size == (3 * 213, 3 * 320)
