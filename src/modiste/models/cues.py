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
    # Frame homogeneity (issue #12): a fabric close-up is one surface filling the frame; crops of
    # a hem, collar or sleeve show the garment's outline and what lies beyond it.
    "frame_colour_spread",  # mean Lab distance of the 3x3 grid cells' colour to their median / 64
    "frame_colour_max",  # the largest such distance / 64
    "frame_texture_spread",  # spread of the cells' lightness std (coefficient of variation)
)
FACE_CUES = 5  # the first five need the (slow) Haar cascades
LAYOUT_END = 15  # "layout" and "all" stop here: heads trained before the frame cues keep working
FRAME_CUES = len(CUE_NAMES) - LAYOUT_END
CUE_SETS = ("layout", "all", "layout_frame")
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
    """Indices into :data:`CUE_NAMES` used by a cue set (``layout`` skips the face cascades).

    A cue set names a fixed list of columns: new cues get a new set, so a head file trained on
    ``layout`` or ``all`` reads exactly the columns it was fitted on.
    """
    if cue_set not in CUE_SETS:
        raise ValueError(f"unknown cue set {cue_set!r}; valid: {', '.join(CUE_SETS)}")
    if cue_set == "layout_frame":
        return list(range(FACE_CUES, len(CUE_NAMES)))
    return list(range(FACE_CUES if cue_set == "layout" else 0, LAYOUT_END))


def small_rgb(image: Image.Image) -> np.ndarray:
    """The image as an RGB array with its long side at the cues' working size."""
    w0, h0 = image.size
    scale = _SIDE / max(w0, h0)
    small = image.convert("RGB").resize((max(1, round(w0 * scale)), max(1, round(h0 * scale))))
    return np.asarray(small)


def frame_cues(rgb: np.ndarray) -> np.ndarray:
    """How alike the 3x3 grid cells of a (small) RGB image are: the ``frame_*`` cues.

    A plain fabric area filling the frame gives cells of one colour and one texture level; a
    crop that holds an outline and background (hem, collar, sleeve, a garment on a floor) does
    not. A thin stitch line through the frame barely moves a cell's mean.
    """
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    ys, xs = np.linspace(0, h, 4).astype(int), np.linspace(0, w, 4).astype(int)
    cells = [
        lab[ys[i] : max(ys[i + 1], ys[i] + 1), xs[j] : max(xs[j + 1], xs[j] + 1)].reshape(-1, 3)
        for i in range(3)
        for j in range(3)
    ]
    means = np.stack([c.mean(axis=0) for c in cells])
    dist = np.linalg.norm(means - np.median(means, axis=0), axis=1) / 64.0
    tex = np.array([c[:, 0].std() for c in cells])
    return np.array([dist.mean(), dist.max(), tex.std() / (tex.mean() + 4.0)], dtype=np.float32)


def image_cues(image: Image.Image, faces: bool = True, frame: bool = False) -> np.ndarray:
    """The :data:`CUE_NAMES` vector for one image (float32); face cues are 0 without ``faces``,
    frame cues 0 without ``frame`` (only the ``layout_frame`` set reads them; they cost ~1.6 ms)."""
    import cv2

    w0, h0 = image.size
    rgb = small_rgb(image)
    h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    face_size, face_y = 0.0, 1.0
    found = _faces(gray, w, h) if faces else {"frontal": (), "profile": (), "upper": ()}
    faces_ = found["frontal"]
    if len(faces_):
        _, fy, _, fh = max(faces_, key=lambda f: f[2] * f[3])
        face_size, face_y = fh / h, (fy + fh / 2) / h

    # channel min and max elementwise: the same integers as rgb.min / np.ptp over axis 2 at
    # a tenth of the time (NumPy reduces a 3-wide last axis slowly)
    r, g, b_ = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lo, hi = np.minimum(np.minimum(r, g), b_), np.maximum(np.maximum(r, g), b_)
    white = (lo > 225) & (hi - lo < 20)
    b = max(1, round(0.04 * min(h, w)))
    border = np.concatenate(
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
            float(border.mean()),
            coverage,
            aspect,
            fill,
            top,
            bottom,
            skin_frac,
            float((edges > 0).mean()),
            float(np.log(h0 / max(w0, 1))),
            *(frame_cues(rgb) if frame else np.zeros(FRAME_CUES)).tolist(),
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
    ``frame=True`` fills the frame-homogeneity columns (0 otherwise).
    """

    names = CUE_NAMES

    def __init__(self, faces: bool = True, frame: bool = False) -> None:
        self.faces = faces
        self.frame = frame

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, len(CUE_NAMES)), dtype=np.float32)
        return np.stack([image_cues(im, self.faces, self.frame) for im in images])
