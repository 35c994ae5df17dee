"""Text reading with RapidOCR (ONNX Runtime), built lazily because it is slow to start and run.

Used for cues (wash tags, brand tags and size charts are text-heavy) and by the care-label reader.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from modiste.domain import Box
from modiste.errors import ModelError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


class OcrLine(NamedTuple):
    """One line of text: unpacks as ``(text, box, score)``."""

    text: str
    box: Box
    score: float


class OcrReader:
    """``read(image) -> list[OcrLine]``; the engine loads on the first call."""

    def __init__(self, max_side: int = 960, min_score: float = 0.5) -> None:
        self.max_side = max_side
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()

    def _get_engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as e:
                    raise ModelError(
                        "OCR needs rapidocr-onnxruntime (pip install rapidocr-onnxruntime)"
                    ) from e
                self._engine = RapidOCR()
            return self._engine

    def read(self, image: Image.Image) -> list[OcrLine]:
        """Text lines found in ``image``, boxes in the image's own pixels."""
        engine = self._get_engine()
        w, h = image.size
        scale = min(1.0, self.max_side / max(w, h))
        im = image.convert("RGB")
        if scale < 1.0:
            im = im.resize((round(w * scale), round(h * scale)))
        try:
            result, _ = engine(np.asarray(im)[:, :, ::-1].copy())  # RapidOCR expects BGR like cv2
        except Exception as e:  # onnxruntime and cv2 raise assorted types
            raise ModelError(f"OCR failed: {e}") from e
        lines = []
        for pts, text, score in result or []:
            xs = [p[0] / scale for p in pts]
            ys = [p[1] / scale for p in pts]
            if float(score) >= self.min_score and str(text).strip():
                lines.append(
                    OcrLine(str(text), Box(min(xs), min(ys), max(xs), max(ys)), float(score))
                )
        return lines


def text_cues(lines: list[OcrLine], width: int, height: int) -> dict[str, float]:
    """How text-heavy and how table-like an image is, from its OCR lines."""
    area = float(width * height) or 1.0
    chars = sum(len(x.text) for x in lines)
    text_area = sum(x.box.area for x in lines) / area
    # Table-likeness: several lines share a row (similar centre y) with distinct columns.
    rows: dict[int, int] = {}
    for x in lines:
        key = round((x.box.y1 + x.box.y2) / 2 / max(height, 1) * 40)
        rows[key] = rows.get(key, 0) + 1
    multi = sum(1 for n in rows.values() if n >= 3)
    digits = sum(ch.isdigit() for x in lines for ch in x.text) / max(chars, 1)
    return {
        "ocr_lines": float(len(lines)),
        "ocr_chars": float(chars),
        "ocr_area": text_area,
        "ocr_table_rows": float(multi),
        "ocr_digit_share": digits,
    }
