"""Garment boxes as every detector backend handles them: classes, letterbox, NMS, garments.

The shipped head (``detector_head``) and user YOLO files (``yolo_onnx``) both need these; they live
here so that each backend depends on this module alone, and the factory in ``detector`` depends on
the backends, never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modiste.domain import Box, Garment

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_CLASSES: tuple[str, ...] = (
    "top",
    "outerwear",
    "bottom",
    "dress",
    "footwear",
    "bag",
    "hat",
    "accessory",
)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was scaled and padded into the network input; maps boxes back."""

    scale: float
    pad_x: float
    pad_y: float
    width: int  # original image size
    height: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) x1y1x2y2 boxes from network-input pixels to clamped image pixels."""
        out = boxes.astype(np.float64).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out

    def content(self) -> tuple[float, float, float, float]:
        """Where the image lies in the network input: x1, y1, x2, y2 in input pixels."""
        return (
            self.pad_x,
            self.pad_y,
            self.pad_x + self.width * self.scale,
            self.pad_y + self.height * self.scale,
        )

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) boxes from image pixels to network-input pixels (training targets)."""
        out = boxes.astype(np.float64).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out


def letterbox(
    image: Image.Image, width: int, height: int, fill: tuple[int, int, int] = (114, 114, 114)
) -> tuple[Image.Image, Letterbox]:
    """Resize keeping the aspect ratio and pad (centred) to ``width`` x ``height``.

    Keeping the aspect matters: garments' shapes are the signal, and YOLO models are trained so.
    """
    from PIL import Image as PILImage

    im = image.convert("RGB") if image.mode != "RGB" else image
    scale = min(width / im.width, height / im.height)
    new_w, new_h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    pad_x, pad_y = (width - new_w) / 2, (height - new_h) / 2
    canvas = PILImage.new("RGB", (width, height), fill)
    canvas.paste(im.resize((new_w, new_h), PILImage.Resampling.BILINEAR), (int(pad_x), int(pad_y)))
    return canvas, Letterbox(scale, float(int(pad_x)), float(int(pad_y)), im.width, im.height)


def nms_per_class(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float = 0.5
) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression run separately for each class."""
    keep: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        while idx.size:
            i = idx[0]
            keep.append(int(i))
            rest = idx[1:]
            if not rest.size:
                break
            xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
            yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
            xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
            yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
            inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
            area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            area_r = (boxes[rest, 2] - boxes[rest, 0]) * (boxes[rest, 3] - boxes[rest, 1])
            overlap = inter / np.maximum(area_i + area_r - inter, 1e-9)
            idx = rest[overlap <= iou]
    keep.sort(key=lambda k: -float(scores[k]))
    return np.asarray(keep, dtype=np.int64)


def to_garments(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> list[Garment]:
    """Rows of (box, score, class index) as domain objects, best first."""
    order = np.argsort(-scores, kind="stable")
    return [
        Garment(
            label=classes[int(labels[i])],
            confidence=float(scores[i]),
            box=Box(*(float(v) for v in boxes[i])),
        )
        for i in order
        if boxes[i, 2] > boxes[i, 0] and boxes[i, 3] > boxes[i, 1]
    ]
