"""Cheap, explainable image cues that an ImageNet backbone does not encode well.

Faces (OpenCV's bundled Haar cascades) separate a back view from a front view; colour and layout
(white studio background, foreground box, skin) separate packshots, flat-lays and close-ups.
Every cue is measured for its worth in docs/decisions/shot-classifier.md.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

CUE_NAMES: tuple[str, ...] = (
    "face_frontal",  # 1 if a frontal face is found
    "face_frontal_size",  # largest frontal face height / image height
    "face_frontal_y",  # its centre's height in the image (0 top, 1 bottom); 1 when none
    "face_profile",  # 1 if a profile face (either side) is found
    "upper_body",  # 1 if the upper-body cascade fires
    "white_fraction",  # share of near-white pixels
    "border_white",  # share of near-white pixels on the outer 4% frame
    "fg_coverage",  # foreground bounding-box area / image area
    "fg_aspect",  # foreground box height / width (log)
    "fg_fill",  # foreground pixels / foreground box area
    "fg_top",  # foreground box top edge (0..1)
    "fg_bottom",  # foreground box bottom edge (0..1)
    "skin_fraction",  # skin-coloured share of foreground pixels
    "edge_density",  # Canny edge pixels / all pixels (text and texture are edge-heavy)
    "image_aspect",  # image height / width (log)
)
FACE_CUES = 5  # the first five need the (slow) Haar cascades
CUE_SETS = ("layout", "all")
_SIDE = 256
_local = threading.local()


def _cascades() -> dict[str, Any]:
    # cv2.CascadeClassifier is not thread-safe; one set per thread, loaded on first use.
    cas = getattr(_local, "cascades", None)
    if cas is None:
        import cv2

        root = cv2.data.haarcascades  # type: ignore[attr-defined]
        cas = {
            name: cv2.CascadeClassifier(root + f"haarcascade_{name}.xml")
            for name in ("frontalface_default", "profileface", "upperbody")
        }
        _local.cascades = cas
    return cas


def cue_columns(cue_set: str) -> list[int]:
    """Indices into :data:`CUE_NAMES` used by a cue set (``layout`` skips the face cascades)."""
    if cue_set not in CUE_SETS:
        raise ValueError(f"unknown cue set {cue_set!r}; valid: {', '.join(CUE_SETS)}")
    return list(range(FACE_CUES if cue_set == "layout" else 0, len(CUE_NAMES)))


def image_cues(image: Image.Image, faces: bool = True) -> np.ndarray:
    """The :data:`CUE_NAMES` vector for one image (float32); face cues are 0 without ``faces``."""
    import cv2

    w0, h0 = image.size
    scale = _SIDE / max(w0, h0)
    small = image.convert("RGB").resize((max(1, round(w0 * scale)), max(1, round(h0 * scale))))
    rgb = np.asarray(small)
    h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    face_size, face_y = 0.0, 1.0
    found = _faces(gray, w, h) if faces else {"frontal": (), "profile": (), "upper": ()}
    faces_ = found["frontal"]
    if len(faces_):
        _, fy, _, fh = max(faces_, key=lambda f: f[2] * f[3])
        face_size, face_y = fh / h, (fy + fh / 2) / h

    white = (rgb.min(axis=2) > 225) & (np.ptp(rgb, axis=2) < 20)
    b = max(1, round(0.04 * min(h, w)))
    frame = np.concatenate(
        [white[:b].ravel(), white[-b:].ravel(), white[:, :b].ravel(), white[:, -b:].ravel()]
    )
    fg = ~white
    ys, xs = np.nonzero(fg)
    if len(ys):
        top, bottom, left, right = (
            ys.min() / h,
            (ys.max() + 1) / h,
            xs.min() / w,
            (xs.max() + 1) / w,
        )
        box_area = max((bottom - top) * (right - left), 1e-6)
        coverage, fill = box_area, fg.mean() / box_area
        aspect = np.log(max(bottom - top, 1e-3) / max(right - left, 1e-3))
    else:
        top, bottom, coverage, fill, aspect = 0.0, 0.0, 0.0, 0.0, 0.0
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    skin = (
        (ycrcb[..., 1] >= 135)
        & (ycrcb[..., 1] <= 173)
        & (ycrcb[..., 2] >= 77)
        & (ycrcb[..., 2] <= 127)
    )
    skin_frac = float((skin & fg).sum() / max(fg.sum(), 1))
    edges = cv2.Canny(gray, 80, 160)
    return np.array(
        [
            float(len(faces_) > 0),
            face_size,
            face_y,
            float(len(found["profile"]) > 0),
            float(len(found["upper"]) > 0),
            float(white.mean()),
            float(frame.mean()),
            coverage,
            aspect,
            fill,
            top,
            bottom,
            skin_frac,
            float((edges > 0).mean()),
            float(np.log(h0 / max(w0, 1))),
        ],
        dtype=np.float32,
    )


def _faces(gray: np.ndarray, w: int, h: int) -> dict[str, Any]:
    import cv2

    cas = _cascades()
    eq = cv2.equalizeHist(gray)
    m = max(12, h // 20)
    prof = cas["profileface"]
    return {
        "frontal": cas["frontalface_default"].detectMultiScale(eq, 1.1, 5, minSize=(m, m)),
        "profile": (
            *prof.detectMultiScale(eq, 1.1, 5, minSize=(m, m)),
            *prof.detectMultiScale(eq[:, ::-1].copy(), 1.1, 5, minSize=(m, m)),
        ),
        "upper": cas["upperbody"].detectMultiScale(eq, 1.1, 3, minSize=(w // 4, h // 4)),
    }


class CueExtractor:
    """Same verb as the other models: ``predict(images) -> (N, len(CUE_NAMES))``.

    ``faces=False`` skips the Haar cascades (most of the cost); their columns are then 0.
    """

    names = CUE_NAMES

    def __init__(self, faces: bool = True) -> None:
        self.faces = faces

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, len(CUE_NAMES)), dtype=np.float32)
        return np.stack([image_cues(im, self.faces) for im in images])
