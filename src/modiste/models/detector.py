"""Garment detection: one protocol, a shipped head and user YOLO ONNX files behind one factory.

Every backend returns :class:`~modiste.domain.Garment` boxes in pixels of the image it was given,
so crops, search and evaluation never need to know which detector ran.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from modiste.domain import Garment
from modiste.errors import ConfigError, ModelError

# The shared box helpers, importable from here as before (the backends import garment_boxes).
from modiste.models.garment_boxes import (
    DEFAULT_CLASSES,
    Letterbox,
    letterbox,
    nms_per_class,
    to_garments,
)

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings

__all__ = [
    "DEFAULT_CLASSES",
    "GarmentDetector",
    "Letterbox",
    "create_detector",
    "default_weights_path",
    "letterbox",
    "load_class_names",
    "nms_per_class",
    "to_garments",
]

log = logging.getLogger(__name__)


@runtime_checkable
class GarmentDetector(Protocol):
    """Anything that finds garments: ``predict`` returns one list of garments per image."""

    classes: tuple[str, ...]

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]: ...


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
    threads: int | None = None,
    lanes: int = 1,
) -> GarmentDetector:
    """Build a detector by name.

    Args:
        settings: Where trained heads and backbone weights are looked up.
        name: ``"default"`` (the shipped head), a ``.npz`` head, or a YOLO ``.onnx`` file.
        classes_path: Class names for an ONNX model (text or YAML); defaults to a ``.txt``,
            ``.yaml`` or ``.yml`` file beside it with the same stem.
        min_score: Confidence threshold; each backend has its own default.
        threads: ONNX Runtime threads per call (None: the settings' or every core); a batch
            job that calls from several lanes at once asks for one.
        lanes: Threads that call the shipped head's session at once (its OpenVINO session
            runs a stream for each).

    Raises:
        ModelError: Unknown name, missing or unreadable file.
    """
    kw: dict[str, Any] = {} if min_score is None else {"min_score": min_score}
    if threads is not None:
        kw["threads"] = threads
    if str(name) == "default":
        from modiste.models.detector_head import CenterNetDetector

        return CenterNetDetector.load(default_weights_path(settings), settings, lanes=lanes, **kw)
    path = Path(name)
    if not path.is_file():
        raise ModelError(f"unknown detector {str(name)!r}; valid: 'default', a .npz or .onnx file")
    if path.suffix.lower() == ".npz":
        from modiste.models.detector_head import CenterNetDetector

        return CenterNetDetector.load(path, settings, lanes=lanes, **kw)
    if path.suffix.lower() == ".onnx":
        from modiste.models.yolo_onnx import YoloOnnxDetector

        if classes_path is None:
            beside = [path.with_suffix(s) for s in (".txt", ".names", ".yaml", ".yml")]
            classes_path = next((p for p in beside if p.is_file()), None)
        if classes_path is None:
            raise ModelError(f"{path}: pass a class-names file (none found beside the model)")
        return YoloOnnxDetector(path, load_class_names(classes_path), **kw)
    raise ModelError(f"{path}: detector files must be .onnx (YOLO) or .npz (Modiste head)")
