"""Detector plumbing shared by every backend: letterbox, NMS, class names, the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modiste.errors import ConfigError, ModelError
from modiste.models.detector import (
    DEFAULT_CLASSES,
    create_detector,
    letterbox,
    load_class_names,
    nms_per_class,
    to_garments,
)


def test_default_classes_match_the_issue() -> None:
    assert DEFAULT_CLASSES == (
        "top",
        "outerwear",
        "bottom",
        "dress",
        "footwear",
        "bag",
        "hat",
        "accessory",
    )


@pytest.mark.parametrize("size", [(200, 100), (100, 300), (64, 64)])
def test_letterbox_round_trip(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, "red")
    canvas, lb = letterbox(image, 96, 128)
    assert canvas.size == (96, 128)
    box = np.array([[10.0, 5.0, size[0] - 3.0, size[1] - 7.0]])
    back = lb.to_image(lb.to_input(box))
    np.testing.assert_allclose(back, box, atol=1e-6)
    # The image fills the canvas along one side exactly.
    assert min(abs(lb.scale * size[0] - 96), abs(lb.scale * size[1] - 128)) < 1e-6


def test_letterbox_clamps_boxes_to_the_image() -> None:
    _, lb = letterbox(Image.new("RGB", (100, 50)), 100, 100)
    out = lb.to_image(np.array([[-20.0, 0.0, 150.0, 100.0]]))
    assert out.tolist() == [[0.0, 0.0, 100.0, 50.0]]


def test_nms_is_class_wise() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 0])
    keep = nms_per_class(boxes, scores, labels, iou=0.5)
    assert keep.tolist() == [0, 2, 3]  # the overlapping same-class box goes, the other class stays


def test_to_garments_orders_and_skips_empty_boxes() -> None:
    boxes = np.array([[0, 0, 5, 5], [0, 0, 0, 5], [1, 1, 4, 4]], float)
    out = to_garments(boxes, np.array([0.2, 0.9, 0.5]), np.array([0, 1, 2]), ("a", "b", "c"))
    assert [g.label for g in out] == ["c", "a"]
    assert out[0].box.x2 == 4.0


def test_class_names_from_text_and_yaml(tmp_path: Path) -> None:
    txt = tmp_path / "n.txt"
    txt.write_text("shirt\n\n shoe \n")
    assert load_class_names(txt) == ("shirt", "shoe")
    lst = tmp_path / "a.yaml"
    lst.write_text("names: [shirt, shoe]\nnc: 2\n")
    assert load_class_names(lst) == ("shirt", "shoe")
    mapping = tmp_path / "b.yml"
    mapping.write_text("names:\n  1: shoe\n  0: shirt\n")
    assert load_class_names(mapping) == ("shirt", "shoe")
    bad = tmp_path / "c.yaml"
    bad.write_text("nc: 2\n")
    with pytest.raises(ConfigError):
        load_class_names(bad)


def test_factory_refuses_unknown_names(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="valid"):
        create_detector(settings, "nope")
    other = tmp_path / "model.bin"
    other.write_bytes(b"x")
    with pytest.raises(ModelError):
        create_detector(settings, other)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    with pytest.raises(ModelError, match="class-names"):
        create_detector(settings, onnx)
