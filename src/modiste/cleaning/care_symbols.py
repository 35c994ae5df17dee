"""Read the ISO 3758 care pictograms on a label photo (wash tub, triangle, square, iron, circle).

Three steps, all NumPy/SciPy so serving needs no training code and no torch:

1. :func:`locate` finds symbol candidates: dark strokes (a local threshold) grouped into connected
   components, parts that sit inside a bigger part merged (the "30" inside a tub, the dots of an
   iron); a second pass on slightly thickened strokes joins a tub broken by blur.
2. :class:`SymbolModel` classifies each candidate crop (pixels + gradient histograms, a small
   MLP trained only on rendered symbols: ``modiste train care-symbols``). Text, digits and
   noise fall into the ``none`` class.
3. :func:`read_care_symbols` keeps the largest row of similar-sized symbols on one line (a
   tilted label gives a tilted line) and maps each to the care parser's canonical names;
   :func:`modiste.cleaning.care_labels.merge_care` joins them with the text reading.

Figures and what fails: ``docs/decisions/care-symbols.md``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modiste.errors import ModelError

if TYPE_CHECKING:
    from PIL import Image

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# Symbol class -> canonical care name (the text parser's names where it has one; "bleach",
# "tumble dry medium/high", "wet clean" and "do not wet clean" only come from symbols). Wash dots
# follow ASTM/JIS (1 dot 30 °C ... 4 dots 60 °C); drip drying reads as "line dry" as in the text
# rules; the bars under a tub or circle (gentle cycles) are not read.
CLASS_CARE: dict[str, str | None] = {
    "none": None,
    "wash_30": "machine wash 30",
    "wash_40": "machine wash 40",
    "wash_60": "machine wash 60",
    "wash_95": "machine wash 95",
    "wash_dot1": "machine wash 30",
    "wash_dot2": "machine wash 40",
    "wash_dot3": "machine wash 50",
    "wash_dot4": "machine wash 60",
    "wash": "machine wash",
    "hand_wash": "hand wash",
    "do_not_wash": "do not wash",
    "bleach": "bleach",
    "bleach_non_chlorine": "only non-chlorine bleach",
    "do_not_bleach": "do not bleach",
    "tumble_dry": "tumble dry",
    "tumble_dry_low": "tumble dry low",
    "tumble_dry_medium": "tumble dry medium",
    "tumble_dry_high": "tumble dry high",
    "do_not_tumble_dry": "do not tumble dry",
    "line_dry": "line dry",
    "drip_dry": "line dry",
    "dry_flat": "dry flat",
    "iron": "iron",
    "iron_low": "iron low",
    "iron_medium": "iron medium",
    "iron_high": "iron high",
    "do_not_iron": "do not iron",
    "dry_clean_p": "dry clean",
    "dry_clean_f": "dry clean",
    "dry_clean_a": "dry clean",
    "wet_clean": "wet clean",
    "do_not_dry_clean": "do not dry clean",
    "do_not_wet_clean": "do not wet clean",
}
SYMBOL_CLASSES = [c for c in CLASS_CARE if c != "none"]

WORK_SIDE = 1024  # images are scaled so their long side is this many pixels before locating
# ... small photos by at most this factor when reading (training crops keep WORK_SIDE, so the
# shipped model stays what `modiste train care-symbols` makes): 224 px catalog thumbnails were
# blown up 4.6x. Rendered labels: recall 0.846 -> 0.847, precision 0.889 -> 0.886; the real
# 512 px labels are read at 2x either way (docs/decisions/shot-classifier.md, "OCR cue").
MAX_UPSCALE = 2.0
MIN_SIDE, MAX_SIDE = 9, 140  # candidate size at the working scale, in pixels
CROP = 24  # classifier input: a CROP x CROP darkness map
MODEL_FILE = "data/care_symbols.npz"


@dataclass(frozen=True)
class SymbolHit:
    """One pictogram read: its class, canonical care name, box (input pixels) and confidence."""

    label: str
    care: str | None
    box: Box
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "care": self.care,
            "box": [round(v, 1) for v in self.box],
            "confidence": round(self.confidence, 3),
        }


# ----------------------------------------------------------------------------- locate


def to_gray(image: Image.Image, max_upscale: float | None = None) -> tuple[np.ndarray, float]:
    """The image as float32 gray at the working scale (a small one brought up by at most
    ``max_upscale``), and that scale (work px per input px)."""
    from PIL import Image as PILImage

    f = WORK_SIDE / max(image.size)
    if max_upscale is not None:
        f = min(f, max_upscale)
    size = (max(1, round(image.width * f)), max(1, round(image.height * f)))
    gray = image.convert("L").resize(size, PILImage.Resampling.BICUBIC)
    return np.asarray(gray, np.float32), f


def _components(mask: np.ndarray) -> list[Box]:
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    out: list[Box] = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if max(h, w) > MAX_SIDE or max(h, w) < 5:
            continue
        if int((labels[sl] == k).sum()) < 8:
            continue
        out.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop))
    return out


def _merge_contained(boxes: list[Box]) -> list[Box]:
    """Parts lying mostly inside a bigger part join it (digits in a tub, dots of an iron)."""
    order = sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    merged = np.zeros((len(order), 4), np.float64)
    n = 0
    for b in order:
        area = max(1.0, (b[2] - b[0]) * (b[3] - b[1]))
        m = merged[:n]
        iw = np.minimum(b[2], m[:, 2]) - np.maximum(b[0], m[:, 0])
        ih = np.minimum(b[3], m[:, 3]) - np.maximum(b[1], m[:, 1])
        hit = np.flatnonzero((iw > 0) & (ih > 0) & (iw * ih >= 0.7 * area))
        if hit.size:
            k = int(hit[0])
            merged[k] = [
                min(b[0], m[k, 0]),
                min(b[1], m[k, 1]),
                max(b[2], m[k, 2]),
                max(b[3], m[k, 3]),
            ]
        else:
            merged[n] = b
            n += 1
    return [tuple(float(v) for v in r) for r in merged[:n]]  # type: ignore[misc]


def _iou(a: Box, b: Box) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def locate(gray: np.ndarray) -> list[Box]:
    """Symbol-sized groups of dark strokes in a working-scale gray image (boxes in its pixels)."""
    from scipy import ndimage

    if min(gray.shape) < MIN_SIDE:
        return []
    bg = ndimage.uniform_filter(gray, 31)
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(gray * gray, 31) - bg * bg, 0))
    dark = gray < bg - np.maximum(10.0, 0.5 * spread)
    # Three cuts of the strokes: plain; thickened (joins a tub broken by blur); strict (parts a
    # symbol from text that blur made touch it). The classifier tells which crop is a symbol.
    strict = gray < bg - np.maximum(20.0, 1.0 * spread)
    found = np.zeros((0, 4))
    for mask in (dark, ndimage.binary_dilation(dark, np.ones((3, 3))), strict):
        boxes = np.array(_merge_contained(_components(mask))).reshape(-1, 4)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        big, small = np.maximum(w, h), np.minimum(w, h)
        ok = (small >= MIN_SIDE * 0.6) & (big >= MIN_SIDE) & (big <= MAX_SIDE)
        ok &= (w >= 0.4 * h) & (w <= 2.5 * h)
        for b in boxes[ok]:
            if not len(found) or _ious(b, found).max() < 0.8:
                found = np.vstack([found, b])
    return [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in found]


def _ious(b: np.ndarray, others: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(b[2], others[:, 2]) - np.maximum(b[0], others[:, 0]), 0, None)
    ih = np.clip(np.minimum(b[3], others[:, 3]) - np.maximum(b[1], others[:, 1]), 0, None)
    inter = iw * ih
    area = (b[2] - b[0]) * (b[3] - b[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / (area + areas - inter))


# ----------------------------------------------------------------------------- features


def _crop(gray: np.ndarray, box: Box) -> np.ndarray:
    """A CROP x CROP darkness map (1 = ink) of the square around ``box``, contrast-normalised."""
    from PIL import Image as PILImage

    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * 0.6 + 1
    x0, y0 = round(cx - half), round(cy - half)
    side = max(2, round(2 * half))
    pad = side
    padded = np.pad(gray, pad, mode="edge")
    patch = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    small = PILImage.fromarray(np.ascontiguousarray(patch, np.float32), "F").resize(
        (CROP, CROP), PILImage.Resampling.BILINEAR
    )
    arr = np.asarray(small, np.float32)
    lo, hi = float(np.percentile(arr, 3)), float(np.percentile(arr, 90))
    return np.clip((hi - arr) / max(hi - lo, 25.0), 0, 1)


def _hog(d: np.ndarray, cell: int, bins: int = 8) -> np.ndarray:
    gy, gx = np.gradient(d)
    mag = np.hypot(gx, gy)
    ang = (np.arctan2(gy, gx) % np.pi) / np.pi * bins
    idx = np.minimum(ang.astype(int), bins - 1)
    n = d.shape[0] // cell
    out = np.zeros((n, n, bins), np.float32)
    for i in range(n):
        for j in range(n):
            sl = (slice(i * cell, (i + 1) * cell), slice(j * cell, (j + 1) * cell))
            out[i, j] = np.bincount(idx[sl].ravel(), mag[sl].ravel(), bins)
    flat = out.ravel()
    return flat / (np.linalg.norm(flat) + 1e-6)


def features(gray: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """One row per box: darkness pixels, gradient histograms (6 px and 12 px cells), shape."""
    rows = []
    for b in boxes:
        d = _crop(gray, b)
        w, h = b[2] - b[0], b[3] - b[1]
        shape = np.array([np.log(w / h), d.mean()], np.float32)
        rows.append(np.concatenate([d.ravel(), _hog(d, 6), _hog(d, 12), shape]))
    return np.stack(rows) if rows else np.zeros((0, feature_size()), np.float32)


def feature_size() -> int:
    return CROP * CROP + (CROP // 6) ** 2 * 8 + (CROP // 12) ** 2 * 8 + 2


# ----------------------------------------------------------------------------- model


@dataclass
class SymbolModel:
    """A standardised MLP (one ReLU layer) over :func:`features`; weights from an .npz file."""

    classes: list[str]
    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    meta: dict[str, object]

    def predict_proba(self, feats: np.ndarray) -> np.ndarray:
        x = (feats - self.mean) / self.std
        h = np.maximum(x @ self.w1 + self.b1, 0)
        z = h @ self.w2 + self.b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        arrays = {k: getattr(self, k).astype(np.float16) for k in ("w1", "b1", "w2", "b2")}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            classes=np.array(self.classes),
            mean=self.mean.astype(np.float32),
            std=self.std.astype(np.float32),
            meta=np.array(json.dumps(self.meta)),
            **arrays,
        )

    @classmethod
    def load(cls, path: Path | str) -> SymbolModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                arr = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ModelError(f"care-symbol model {Path(path).name} could not be read") from e
        classes = [str(c) for c in arr["classes"]]
        unknown = sorted(set(classes) - set(CLASS_CARE))
        if unknown:
            raise ModelError(f"care-symbol model has unknown classes: {', '.join(unknown)}")
        f32 = {k: arr[k].astype(np.float32) for k in ("mean", "std", "w1", "b1", "w2", "b2")}
        if f32["mean"].shape != (feature_size(),):
            raise ModelError("care-symbol model was trained on other features; retrain it")
        return cls(classes=classes, meta=json.loads(str(arr["meta"])), **f32)


@lru_cache(maxsize=1)
def shipped_model() -> SymbolModel:
    """The model shipped in ``cleaning/data`` (loaded once: a few hundred KB)."""
    with resources.as_file(resources.files("modiste.cleaning").joinpath(MODEL_FILE)) as p:
        return SymbolModel.load(p)


# ----------------------------------------------------------------------------- read


def _best_row(hits: list[tuple[Box, str, float]]) -> list[int]:
    """Indices of the largest set of similar-sized hits on one line (tilt up to ~40°), in order."""
    if len(hits) <= 1:
        return list(range(len(hits)))
    c = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b, _, _ in hits])
    size = np.array([max(b[2] - b[0], b[3] - b[1]) for b, _, _ in hits])
    conf = np.array([p for _, _, p in hits])
    best: tuple[float, list[int]] = (0.0, [0])
    for i in range(len(hits)):
        for j in range(i + 1, len(hits)):
            v = c[j] - c[i] if c[j][0] >= c[i][0] else c[i] - c[j]  # rows read left to right
            dist = float(np.hypot(*v))
            s = (size[i] + size[j]) / 2
            if dist > 8 * s or abs(v[1]) > 0.85 * abs(v[0]) or size.max() == 0:
                continue
            u = v / dist
            along = (c - c[i]) @ u
            across = np.abs((c - c[i]) @ np.array([-u[1], u[0]]))
            ok = (across < 0.35 * s) & (np.abs(np.log(size / s)) < 0.45)
            idx = [int(k) for k in np.argsort(along) if ok[k]]
            # Split where a gap is wider than three symbols: two rows far apart are not one.
            runs: list[list[int]] = [[]]
            for k in idx:
                if runs[-1] and along[k] - along[runs[-1][-1]] > 3.2 * s:
                    runs.append([])
                runs[-1].append(k)
            for run in runs:
                score = float(conf[run].sum())
                if score > best[0]:
                    best = (score, run)
    if len(best[1]) == 1:
        best = (0.0, [int(np.argmax(conf))])
    return best[1]


def read_care_symbols(
    image: Image.Image | bytes | str | Path,
    model: SymbolModel | None = None,
    *,
    min_confidence: float = 0.5,
) -> list[SymbolHit]:
    """The pictogram row of a care-label photo, left to right (empty when none is found).

    Raises:
        ImageDecodeError: ``image`` is bytes or a path that is not a safe, readable image.
    """
    from PIL import Image as PILImage

    if not isinstance(image, PILImage.Image):
        from modiste.imaging import decode_image

        image = decode_image(image).image
    gray, f = to_gray(image, MAX_UPSCALE)
    boxes = locate(gray)
    if not boxes:
        return []
    model = model or shipped_model()
    proba = model.predict_proba(features(gray, boxes))
    none = model.classes.index("none") if "none" in model.classes else -1
    hits: list[tuple[Box, str, float]] = []
    for b, p in zip(boxes, proba, strict=True):
        k = int(np.argmax(p))
        if k != none and p[k] >= min_confidence:
            hits.append((b, model.classes[k], float(p[k])))
    # One symbol may be found by both passes or as a part and a whole: keep the surest.
    hits.sort(key=lambda h: -h[2])
    kept: list[tuple[Box, str, float]] = []
    for h in hits:
        if all(_iou(h[0], k[0]) < 0.3 and not _inside(h[0], k[0]) for k in kept):
            kept.append(h)
    row = [kept[i] for i in _best_row(kept)]
    return [
        SymbolHit(label, CLASS_CARE[label], (b[0] / f, b[1] / f, b[2] / f, b[3] / f), p)
        for b, label, p in row
    ]


def _inside(a: Box, b: Box) -> bool:
    """Whether most of the smaller of two boxes lies inside the other."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw > 0 and ih > 0 and iw * ih > 0.6 * small
