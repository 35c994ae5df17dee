"""Text reading with RapidOCR (ONNX Runtime), built lazily because it is slow to start and run.

Used for cues (wash tags, brand tags and size charts are text-heavy) and by the care-label reader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from modiste.domain import Box
from modiste.errors import ModelError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

CROP_MARGIN = 32  # pixels of plain margin around a region before detection


class OcrLine(NamedTuple):
    """One line of text: unpacks as ``(text, box, score)``."""

    text: str
    box: Box
    score: float


class OcrReader:
    """``read(image) -> list[OcrLine]``; the engine loads on the first call.

    ``recognize=False`` runs only RapidOCR's text *detection* model: the lines come back with
    their boxes and an empty ``text``. Deciding whether a photo carries overlay text needs where
    text is, not what it says, and detection alone costs a fraction of reading (no per-line
    classification and recognition, and no upscaling of the short side to 736 px);
    :meth:`words` then reads only the lines a caller cares about.
    """

    def __init__(
        self,
        max_side: int = 960,
        min_score: float = 0.5,
        recognize: bool = True,
        threads: int | None = None,
    ) -> None:
        self.max_side = max_side
        self.min_score = min_score
        self.recognize = recognize
        self.threads = threads  # ONNX Runtime threads per model (None: its default)
        self._engine: Any = None
        self._recognizer: Any = None
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
                self._engine = RapidOCR() if self.recognize else _model("Det", self.threads)
            return self._engine

    def read(self, image: Image.Image, regions: Sequence[Box] | None = None) -> list[OcrLine]:
        """Text lines found in ``image``, boxes in the image's own pixels.

        ``regions`` (boxes in the image's pixels) limits the search to those parts: each is
        cropped and read on its own, which costs in proportion to their area."""
        engine = self._get_engine()
        w, h = image.size
        scale = min(1.0, self.max_side / max(w, h))
        im = image if image.mode == "RGB" else image.convert("RGB")
        if scale < 1.0:
            im = im.resize((round(w * scale), round(h * scale)))
        bgr = np.asarray(im)[:, :, ::-1]  # RapidOCR expects BGR like cv2
        crops = [(0, 0, im.width, im.height)]
        if regions is not None:
            crops = [_crop_box(r, scale, im.width, im.height) for r in regions]
        lines = []
        for x0, y0, x1, y1 in crops:
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            part, pad = _framed(bgr[y0:y1, x0:x1], whole=(x1 - x0, y1 - y0) == im.size)
            for pts, text, score in self._run(engine, part):
                xs = [(p[0] - pad + x0) / scale for p in pts]
                ys = [(p[1] - pad + y0) / scale for p in pts]
                if float(score) >= self.min_score and (not self.recognize or str(text).strip()):
                    box = Box(min(xs), min(ys), max(xs), max(ys))
                    lines.append(OcrLine(str(text), box, float(score)))
        return lines

    def words(self, image: Image.Image, boxes: Sequence[Box]) -> list[tuple[str, float]]:
        """``(text, score)`` of each line box (in the image's pixels), by the recognition model
        alone: for a caller that needs to know a few detected lines are words."""
        if not boxes:
            return []
        with self._lock:
            if self._recognizer is None:
                self._recognizer = _model("Rec", self.threads)
        w, h = image.size
        scale = min(1.0, self.max_side / max(w, h))
        im = image if image.mode == "RGB" else image.convert("RGB")
        if scale < 1.0:
            im = im.resize((round(w * scale), round(h * scale)))
        bgr = np.asarray(im)[:, :, ::-1]
        crops = []
        for b in boxes:
            x0, y0, x1, y1 = _crop_box(b, scale, im.width, im.height)
            crops.append(np.ascontiguousarray(bgr[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]))
        try:
            result, _ = self._recognizer(crops)
        except Exception as e:  # onnxruntime and cv2 raise assorted types
            raise ModelError(f"OCR failed: {e}") from e
        return [(str(r[0]), float(r[1])) for r in result]

    def _run(self, engine: Any, bgr: np.ndarray) -> list[tuple[Any, str, float]]:
        try:
            if not self.recognize:
                boxes, _ = engine(bgr)
                # The detector's boxes already passed its own box threshold (0.5).
                return [(pts, "", 1.0) for pts in ([] if boxes is None else boxes)]
            result, _ = engine(bgr)
        except Exception as e:  # onnxruntime and cv2 raise assorted types
            raise ModelError(f"OCR failed: {e}") from e
        return list(result or [])


def _crop_box(r: Box, scale: float, w: int, h: int) -> tuple[int, int, int, int]:
    return (
        max(0, int(r.x1 * scale)),
        max(0, int(r.y1 * scale)),
        min(w, int(np.ceil(r.x2 * scale))),
        min(h, int(np.ceil(r.y2 * scale))),
    )


def _framed(bgr: np.ndarray, whole: bool) -> tuple[np.ndarray, int]:
    """A crop with a plain margin of its median colour: the detector misses a word that fills
    its crop or touches its edge (it needs context around a line; the whole image needs none)."""
    import cv2

    if whole:
        return np.ascontiguousarray(bgr), 0
    color = [int(v) for v in np.median(bgr.reshape(-1, 3), axis=0)]
    pad = CROP_MARGIN
    return cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=color), pad


def _model(part: str, threads: int | None = None) -> Any:
    """One of RapidOCR's models alone ("Det" or "Rec"), from the package's own config."""
    from pathlib import Path

    try:
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
        from rapidocr_onnxruntime.utils import read_yaml, update_model_path
    except ImportError as e:
        raise ModelError("OCR needs rapidocr-onnxruntime (pip install rapidocr-onnxruntime)") from e
    root = Path(rapidocr_onnxruntime.__file__).parent
    config = update_model_path(read_yaml(str(root / "config.yaml")))[part]
    if threads is not None:
        config.update(intra_op_num_threads=threads, inter_op_num_threads=1)
    if part == "Rec":
        return TextRecognizer(config)
    # "min" with 0: never upscale (the default brings the short side up to 736 px); the
    # detector still rounds each side to a multiple of 32.
    config.update(limit_type="min", limit_side_len=0)
    return TextDetector(config)


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
