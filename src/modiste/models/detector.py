"""Garment detection: one protocol, a shipped head and user YOLO ONNX files behind one factory.

Every backend returns :class:`~modiste.domain.Garment` boxes in pixels of the image it was given,
so crops, search and evaluation never need to know which detector ran.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from modiste.domain import Box, Garment
from modiste.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings

log = logging.getLogger(__name__)

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


@runtime_checkable
class GarmentDetector(Protocol):
    """Anything that finds garments: ``predict`` returns one list of garments per image."""

    classes: tuple[str, ...]

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]: ...


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


def load_class_names(path: Path) -> tuple[str, ...]:
    """Class names from a text file (one per line) or YAML with ``names:`` (list or id map)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read class names {path}: {e}") from e
    if Path(path).suffix.lower() in {".yaml", ".yml"} or text.lstrip().startswith("names"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from e
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            try:
                names = [names[k] for k in sorted(names, key=int)]
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{path}: 'names' keys must be class ids") from e
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{path}: expected a 'names:' list or mapping")
        return tuple(str(n).strip() for n in names)
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ConfigError(f"{path}: no class names")
    return tuple(names)


def default_weights_path(settings: Settings) -> Path:
    """The head for ``settings.backbone``: the data dir's models folder first, then the package.

    Falls back to the shipped MobileNetV2 head when none was trained for the chosen backbone, so a
    fresh install always has a detector.
    """
    names = [f"detector_{settings.backbone}.npz", "detector_mobilenet_v2.npz"]
    for name in names:
        local = settings.model_dir / name
        if local.is_file():
            return local
        packaged = Path(__file__).with_name("weights") / name
        if packaged.is_file():
            if name != names[0]:
                log.info("no detector head for %s; using %s", settings.backbone, name)
            return packaged
    raise ModelError(
        f"no detector weights found ({', '.join(names)}); run `modiste train detector`"
    )


def create_detector(
    settings: Settings,
    name: str | Path = "default",
    *,
    classes_path: Path | None = None,
    min_score: float | None = None,
) -> GarmentDetector:
    """Build a detector by name.

    Args:
        settings: Where trained heads and backbone weights are looked up.
        name: ``"default"`` (the shipped head), a ``.npz`` head, or a YOLO ``.onnx`` file.
        classes_path: Class names for an ONNX model (text or YAML); defaults to a ``.txt``,
            ``.yaml`` or ``.yml`` file beside it with the same stem.
        min_score: Confidence threshold; each backend has its own default.

    Raises:
        ModelError: Unknown name, missing or unreadable file.
    """
    kw: dict[str, Any] = {} if min_score is None else {"min_score": min_score}
    if str(name) == "default":
        from modiste.models.detector_head import CenterNetDetector

        return CenterNetDetector.load(default_weights_path(settings), settings, **kw)
    path = Path(name)
    if not path.is_file():
        raise ModelError(f"unknown detector {str(name)!r}; valid: 'default', a .npz or .onnx file")
    if path.suffix.lower() == ".npz":
        from modiste.models.detector_head import CenterNetDetector

        return CenterNetDetector.load(path, settings, **kw)
    if path.suffix.lower() == ".onnx":
        from modiste.models.yolo_onnx import YoloOnnxDetector

        if classes_path is None:
            beside = [path.with_suffix(s) for s in (".txt", ".names", ".yaml", ".yml")]
            classes_path = next((p for p in beside if p.is_file()), None)
        if classes_path is None:
            raise ModelError(f"{path}: pass a class-names file (none found beside the model)")
        return YoloOnnxDetector(path, load_class_names(classes_path), **kw)
    raise ModelError(f"{path}: detector files must be .onnx (YOLO) or .npz (Modiste head)")
