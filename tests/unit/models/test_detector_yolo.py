"""YOLO ONNX backends: tiny models exported from torch emit a known box in each layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modiste.config import Settings
from modiste.errors import ModelError
from modiste.models.detector import GarmentDetector, create_detector
from modiste.models.yolo_onnx import YoloOnnxDetector, decode_yolo, detect_layout

SIDE = 64  # network input (square), letterboxed


class Fixed(torch.nn.Module):
    """Outputs a constant tensor (plus 0 * input so the graph keeps its input)."""

    def __init__(self, out: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("out", torch.from_numpy(out.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out + 0 * x.mean()


def _rows() -> np.ndarray:
    """Candidates as (cx, cy, w, h, [obj], class scores...), for 2 classes, in input pixels."""
    return np.array(
        [
            # a confident class-1 box centred at (32, 32), 20 x 10 input px
            [32, 32, 20, 10, 0.9, 0.1, 0.8],
            # a weaker overlapping class-1 box: removed by NMS
            [33, 32, 20, 10, 0.9, 0.1, 0.5],
            # the same place as class 0: kept (NMS is class-wise)
            [32, 32, 20, 10, 0.9, 0.6, 0.1],
            # below threshold
            [10, 10, 4, 4, 0.05, 0.9, 0.0],
        ],
        dtype=np.float32,
    )


def _export(tmp_path: Path, layout: str) -> Path:
    rows = _rows()
    if layout == "v5":
        out = rows[None]  # [1, N, 5 + C]
    else:
        v8 = np.concatenate([rows[:, :4], rows[:, 5:] * rows[:, 4:5]], axis=1)
        out = v8.T[None]  # [1, 4 + C, N]
    path = tmp_path / f"tiny_{layout}.onnx"
    torch.onnx.export(
        Fixed(out),
        torch.zeros(1, 3, SIDE, SIDE),
        str(path),
        dynamo=False,
        input_names=["images"],
        output_names=["output0"],
    )
    (tmp_path / f"tiny_{layout}.yaml").write_text("names:\n  0: shirt\n  1: shoe\n")
    return path


@pytest.mark.parametrize("layout", ["v5", "v8"])
def test_known_box_is_decoded_and_scaled_back(tmp_path: Path, layout: str) -> None:
    det = create_detector(Settings(data_dir=tmp_path / "d"), _export(tmp_path, layout))
    assert isinstance(det, YoloOnnxDetector) and isinstance(det, GarmentDetector)
    assert det.input_size == (SIDE, SIDE) and det.classes == ("shirt", "shoe")
    # 256 x 128 image -> scale 0.25 into 64 x 32, padded by 16 px top and bottom.
    (garments,) = det.predict([Image.new("RGB", (256, 128), "gray")])
    assert [g.label for g in garments] == ["shoe", "shirt"]
    shoe = garments[0]
    assert shoe.confidence == pytest.approx(0.72, abs=1e-5)  # 0.9 * 0.8 either way
    # centre (32, 32) -> ((32 - 0) / .25, (32 - 16) / .25) = (128, 64); size 20x10 -> 80x40
    assert (shoe.box.x1, shoe.box.y1, shoe.box.x2, shoe.box.y2) == pytest.approx((88, 44, 168, 84))


def test_threshold_and_portrait_padding(tmp_path: Path) -> None:
    det = YoloOnnxDetector(_export(tmp_path, "v8"), ("shirt", "shoe"), min_score=0.7)
    # 128 x 256 portrait -> scale 0.25 into 32 x 64, padded 16 px left and right.
    (garments,) = det.predict([Image.new("RGB", (128, 256))])
    assert len(garments) == 1
    box = garments[0].box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((24, 108, 104, 148))


def test_layout_detection() -> None:
    assert detect_layout((1, 100, 7), 2) == "v5"
    assert detect_layout((1, 6, 100), 2) == "v8"
    with pytest.raises(ModelError, match="fits neither"):
        detect_layout((1, 9, 100), 2)
    boxes, scores, labels = decode_yolo(_rows()[None], 2, "v5", 0.5)
    assert labels.tolist() == [1, 0] and scores.tolist() == pytest.approx([0.72, 0.54])
    assert boxes[0].tolist() == pytest.approx([22, 27, 42, 37])


def test_unreadable_model_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError):
        YoloOnnxDetector(bad, ("a",))
