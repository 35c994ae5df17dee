"""A user's own YOLO detector exported to ONNX (YOLOv5 and YOLOv8 output layouts).

Layouts, for C classes and N candidate boxes (``cx, cy, w, h`` in letterboxed input pixels):
- v5: ``[1, N, 5 + C]`` = box, objectness, per-class probabilities (score = obj * prob);
- v8: ``[1, 4 + C, N]`` = box, per-class scores (no objectness).
Both are told apart by their shape against the number of class names, so no flag is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.domain import Garment
from modiste.errors import ModelError
from modiste.models.garment_boxes import letterbox, nms_per_class, to_garments

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)
LAYOUTS = ("auto", "v5", "v8")


def detect_layout(shape: Sequence[int], num_classes: int) -> str:
    """``"v5"`` or ``"v8"`` from an output shape ``[1, A, B]``; raises when neither fits."""
    if len(shape) != 3:
        raise ModelError(f"YOLO output must be [1, A, B], got {list(shape)}")
    _, a, b = shape
    v5, v8 = b == 5 + num_classes, a == 4 + num_classes
    if v5 and v8:  # only when N happens to equal 4 + C: v8 keeps the long axis last
        return "v8" if b >= a else "v5"
    if v5:
        return "v5"
    if v8:
        return "v8"
    raise ModelError(
        f"YOLO output {list(shape)} fits neither [1, N, 5+C] (v5) nor [1, 4+C, N] (v8) "
        f"for C={num_classes} class names; check the class-names file"
    )


def decode_yolo(
    output: np.ndarray, num_classes: int, layout: str = "auto", min_score: float = 0.25
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (x1y1x2y2, input pixels), scores and class ids above ``min_score`` for one image."""
    if layout == "auto":
        layout = detect_layout(output.shape, num_classes)
    rows = output[0]
    if layout == "v8":
        rows = rows.T  # (N, 4 + C)
        cls = rows[:, 4 : 4 + num_classes]
    else:
        cls = rows[:, 5 : 5 + num_classes] * rows[:, 4:5]
    labels = cls.argmax(axis=1)
    scores = cls[np.arange(len(cls)), labels]
    keep = scores >= min_score
    cx, cy, w, h = (rows[keep, i] for i in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float64), scores[keep].astype(np.float64), labels[keep]


class YoloOnnxDetector:
    """Runs a YOLO ONNX file with ONNX Runtime: letterbox, decode, class-wise NMS, unscale."""

    def __init__(
        self,
        path: Path,
        classes: Sequence[str],
        *,
        min_score: float = 0.25,
        iou: float = 0.45,
        layout: str = "auto",
        input_size: tuple[int, int] | None = None,
        threads: int | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ModelError(f"unknown YOLO layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        self.path = Path(path)
        self.classes = tuple(classes)
        self.min_score, self.iou, self.layout = min_score, iou, layout
        self._session = self._open(threads)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        h, w = (inp.shape[2], inp.shape[3]) if len(inp.shape) == 4 else (None, None)
        fixed = (w, h) if isinstance(w, int) and isinstance(h, int) else None
        # (width, height) of the network input; dynamic-shape exports default to YOLO's 640.
        self.input_size = input_size or fixed or (640, 640)

    def _open(self, threads: int | None) -> Any:
        from modiste.models.onnx_runtime import cpu_session

        return cpu_session(str(self.path), threads, str(self.path))

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]:
        """Garments per image, in that image's pixels, best first."""
        w, h = self.input_size
        results: list[list[Garment]] = []
        for image in images:  # one at a time: many exports have a fixed batch of 1
            canvas, lb = letterbox(image, w, h)
            x = np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
            try:
                out = self._session.run(None, {self._input_name: x})[0]
            except Exception as e:
                raise ModelError(f"{self.path.name}: inference failed: {e}") from e
            boxes, scores, labels = decode_yolo(
                np.asarray(out), len(self.classes), self.layout, self.min_score
            )
            keep = nms_per_class(boxes, scores, labels, self.iou)
            boxes = lb.to_image(boxes[keep]) if keep.size else boxes[:0]
            results.append(to_garments(boxes, scores[keep], labels[keep], self.classes))
        return results
