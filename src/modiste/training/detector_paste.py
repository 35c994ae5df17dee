"""Copy-paste training photos for the detector: catalog products cut out and pasted on CCP photos.

CCP has few boxes of the weak classes (bags, belts and other accessories, hats), while a catalog
of packshots on white has hundreds of them, each a free box: the product is cut out by its
white-background mask (edge softened) and pasted on a training photo where such a thing is worn
or carried (a bag beside the body at hand height, a belt at the waist, a scarf at the neck, a cap
on the head), scaled from the person's height. The photo's boxes come along; a box the product
hides mostly is dropped, one it hides along a whole side is clipped. Only the photos given are
pasted on: the caller passes training photos, never validation or held-out ones.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modiste.errors import FeedError
from modiste.evaluation.detection import DetectionItem, map_label
from modiste.imaging import decode_image
from modiste.models.colour import foreground_mask

if TYPE_CHECKING:
    from PIL import Image

# Bump when the generator's output changes, so cached pasted photos and features are not reused.
GENERATOR_VERSION = 1

# articleType -> (the data set's fine label, mapped by LABEL_MAP; where it goes; size range).
# Size: for "hand", "neck" the long side and for "head" the width, as a share of the person's
# height; for "waist" the width as a share of the torso's width.
ARTICLES: dict[str, tuple[str, str, tuple[float, float]]] = {
    "Handbags": ("bag", "hand", (0.14, 0.24)),
    "Backpacks": ("bag", "hand", (0.18, 0.28)),
    "Rucksacks": ("bag", "hand", (0.18, 0.28)),
    "Laptop Bag": ("bag", "hand", (0.18, 0.26)),
    "Messenger Bag": ("bag", "hand", (0.16, 0.24)),
    "Duffel Bag": ("bag", "hand", (0.2, 0.28)),
    "Clutches": ("purse", "hand", (0.08, 0.13)),
    "Mobile Pouch": ("purse", "hand", (0.07, 0.11)),
    "Belts": ("belt", "waist", (0.7, 1.0)),
    "Scarves": ("scarf", "neck", (0.16, 0.26)),
    "Caps": ("cap", "head", (0.09, 0.12)),
    "Hat": ("hat", "head", (0.11, 0.15)),
}
# How often each placement is drawn (bags and accessories are the weakest classes).
PLACE_WEIGHTS = {"hand": 0.45, "waist": 0.25, "neck": 0.1, "head": 0.2}
UPPER = ("top", "outerwear", "dress")
# The catalog photos were squashed from 3:4 portrait to square: widths shrink back by this.
CATALOG_ASPECT = 0.75


@dataclass(frozen=True)
class CatalogProduct:
    path: Path
    label: str  # one of the detector's classes
    place: str
    size: tuple[float, float]


@dataclass(frozen=True)
class PasteConfig:
    """How many pasted photos per training photo, their seed, and the occlusion rule."""

    per_image: int = 1
    seed: int = 0
    max_hidden: float = 0.6  # a box hidden more than this (share of its area) is dropped
    feather: float = 1.0  # Gaussian sigma of the softened mask edge, in catalog pixels
    white: int = 232  # background threshold of the catalog photos
    aspect: float = CATALOG_ASPECT


@dataclass(frozen=True)
class Frame:
    """Where the person is, from the photo's garment boxes (pixels)."""

    top: float  # top of the highest upper-body garment (shoulders)
    height: float  # estimated person height
    torso: tuple[float, float]  # x1, x2 of the upper and lower garments
    waist: float  # y of the waist
    head_x: float


def read_catalog(products_csv: Path, classes: Sequence[str]) -> list[CatalogProduct]:
    """Products with a photo whose articleType has a placement and maps to one of ``classes``."""
    try:
        with products_csv.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise FeedError(f"cannot read {products_csv}: {e}") from e
    if rows and not {"articleType", "image_path"} <= rows[0].keys():
        raise FeedError(f"{products_csv}: needs 'articleType' and 'image_path' columns")
    out = []
    for row in rows:
        spec = ARTICLES.get(row["articleType"])
        if spec is None or not row["image_path"]:
            continue
        label = map_label(spec[0], classes)
        if label is not None:
            path = (products_csv.parent / row["image_path"]).resolve()
            out.append(CatalogProduct(path, label, spec[1], spec[2]))
    if not out:
        raise FeedError(f"{products_csv}: no product photo of a type that can be pasted")
    return out


def cut_out(image: Image.Image, cfg: PasteConfig) -> Image.Image | None:
    """The product as RGBA, cropped to its mask (soft edge); None when not on white."""
    from PIL import Image as PILImage
    from scipy import ndimage

    w = max(8, round(image.width * cfg.aspect))
    rgb = np.asarray(image.convert("RGB").resize((w, image.height)), dtype=np.uint8)
    mask = foreground_mask(rgb, cfg.white)
    if mask.mean() > 0.9 or mask.mean() < 0.01:  # no white background, or nothing on it
        return None
    # White seen through a handle or a buckle is background too, though the border does not
    # reach it: enclosed pure-white patches of some size go (a white product loses little).
    holes, n = ndimage.label(mask & (rgb.min(axis=2) >= 245))
    if n:
        sizes = np.bincount(holes.ravel())
        big = np.flatnonzero(sizes >= 0.002 * mask.size)
        mask &= ~np.isin(holes, big[big > 0])
    # Erode one pixel (the white halo), then soften the edge.
    mask = ndimage.binary_erosion(mask, iterations=1)
    alpha = ndimage.gaussian_filter(mask.astype(np.float32), cfg.feather) if cfg.feather else mask
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys) < 16:
        return None
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a8 = (np.clip(alpha, 0, 1) * 255).astype(np.uint8)
    rgba = np.dstack([rgb, a8])[y1:y2, x1:x2]
    return PILImage.fromarray(rgba, "RGBA")


def person_frame(boxes: np.ndarray, labels: Sequence[str]) -> Frame | None:
    """The person's shoulders, height, torso and waist from the garment boxes; None if unsure."""
    body = [i for i, lab in enumerate(labels) if lab in (*UPPER, "bottom")]
    if not body:
        return None
    upper = [i for i in body if labels[i] in UPPER] or body
    top = float(min(boxes[i, 1] for i in upper))
    bottom = float(boxes[:, 3].max())
    if bottom - top < 8:
        return None
    torso = (float(min(boxes[i, 0] for i in body)), float(max(boxes[i, 2] for i in body)))
    lows = [float(boxes[i, 1]) for i, lab in enumerate(labels) if lab == "bottom"]
    height = (bottom - top) / 0.82  # shoulders to feet is ~82 % of a person's height
    first = min(upper, key=lambda i: boxes[i, 1])
    return Frame(
        top=top,
        height=height,
        torso=torso,
        waist=min(lows) if lows else top + 0.3 * height,
        head_x=float(boxes[first, 0] + boxes[first, 2]) / 2,
    )


def place_box(
    frame: Frame,
    place: str,
    size: tuple[float, float],
    aspect: float,
    image_size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[int, int, int, int] | None:
    """Where a product of ``aspect`` (width / height) goes, in pixels; None if it cannot fit."""
    scale = float(rng.uniform(*size))
    torso_w = frame.torso[1] - frame.torso[0]
    if place == "waist":
        w = scale * torso_w
        h = w / aspect
        cx = (frame.torso[0] + frame.torso[1]) / 2
        cy = frame.waist + float(rng.uniform(-0.02, 0.02)) * frame.height
    else:
        if place == "head":
            w = scale * frame.height
            h = w / aspect
        else:
            long_side = scale * frame.height
            w, h = (
                (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
            )
        if place == "hand":
            side = frame.torso[0] if rng.random() < 0.5 else frame.torso[1]
            outward = -1.0 if side == frame.torso[0] else 1.0
            cx = side + outward * float(rng.uniform(-0.1, 0.4)) * w
            cy = frame.top + float(rng.uniform(0.32, 0.5)) * frame.height
        elif place == "neck":
            cx = (frame.torso[0] + frame.torso[1]) / 2 + float(rng.uniform(-0.1, 0.1)) * torso_w
            cy = frame.top + float(rng.uniform(0.02, 0.08)) * frame.height + h / 2
        elif place == "head":
            cx = frame.head_x + float(rng.uniform(-0.03, 0.03)) * frame.height
            cy = frame.top - float(rng.uniform(0.12, 0.15)) * frame.height
        else:
            raise ValueError(f"unknown placement {place!r}")
    x1, y1 = round(cx - w / 2), round(cy - h / 2)
    x2, y2 = x1 + max(2, round(w)), y1 + max(2, round(h))
    iw, ih = image_size
    if x2 - x1 > iw or y2 - y1 > ih or min(x2 - x1, y2 - y1) < 6:
        return None
    # A bag beside the body may be pushed back into the frame; a cap or belt must stay put.
    if place == "hand":
        dx = max(0, -x1) - max(0, x2 - iw)
        x1, x2 = x1 + dx, x2 + dx
    if x1 < 0 or y1 < 0 or x2 > iw or y2 > ih:
        return None
    return x1, y1, x2, y2


def occlude(
    boxes: np.ndarray, labels: Sequence[str], covered: np.ndarray, max_hidden: float
) -> tuple[np.ndarray, list[str]]:
    """Boxes left visible once ``covered`` (H, W bool, the pasted product) hides part of them.

    A box whose area is hidden by more than ``max_hidden`` is dropped; otherwise it shrinks to
    the rows and columns of it that still show something (a side hidden whole is clipped).
    """
    h, w = covered.shape
    kept, kept_labels = [], []
    for box, label in zip(boxes, labels, strict=True):
        x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        if x2 <= x1 or y2 <= y1:
            continue
        region = covered[y1:y2, x1:x2]
        if not region.any():
            kept.append(np.asarray(box, dtype=np.float64))
            kept_labels.append(label)
            continue
        if region.mean() > max_hidden:
            continue
        rows = np.flatnonzero(~region.all(axis=1))
        cols = np.flatnonzero(~region.all(axis=0))
        kept.append(
            np.array(
                [
                    max(box[0], x1 + cols[0]),
                    max(box[1], y1 + rows[0]),
                    min(box[2], x1 + cols[-1] + 1),
                    min(box[3], y1 + rows[-1] + 1),
                ],
                dtype=np.float64,
            )
        )
        kept_labels.append(label)
    return (np.stack(kept) if kept else np.zeros((0, 4))), kept_labels


def _rng(seed: int, name: str, k: int) -> np.random.Generator:
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:12], 16)
    return np.random.default_rng([seed, digest, k])


def paste_one(
    image: Image.Image,
    item: DetectionItem,
    products: Sequence[CatalogProduct],
    cfg: PasteConfig,
    rng: np.random.Generator,
    tries: int = 8,
) -> tuple[Image.Image, DetectionItem] | None:
    """One product pasted on ``image`` (a copy) and the photo's boxes after it; None if no fit."""
    from PIL import Image as PILImage

    frame = person_frame(item.boxes, item.labels) if len(item.boxes) else None
    if frame is None:
        return None
    places = sorted({p.place for p in products})
    if "hat" in item.labels and "head" in places:
        places.remove("head")  # the head already wears one
    if not places:
        return None
    weights = np.array([PLACE_WEIGHTS.get(p, 0.1) for p in places])
    for _ in range(tries):
        place = places[int(rng.choice(len(places), p=weights / weights.sum()))]
        pool = [p for p in products if p.place == place]
        product = pool[int(rng.integers(len(pool)))]
        cut = cut_out(decode_image(product.path).image, cfg)
        if cut is None:
            continue
        if rng.random() < 0.5:
            cut = cut.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
        box = place_box(frame, place, product.size, cut.width / cut.height, image.size, rng)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        cut = cut.resize((x2 - x1, y2 - y1), PILImage.Resampling.LANCZOS)
        tone = float(rng.uniform(0.8, 1.05))  # catalog light is brighter than the street's
        rgb = np.asarray(cut, dtype=np.float32)
        rgb[..., :3] = np.clip(rgb[..., :3] * tone, 0, 255)
        cut = PILImage.fromarray(rgb.astype(np.uint8), "RGBA")
        out = image.convert("RGB")
        out.paste(cut, (x1, y1), cut)
        alpha = np.asarray(cut)[..., 3] > 127
        covered = np.zeros((image.height, image.width), dtype=bool)
        covered[y1:y2, x1:x2] = alpha
        ys, xs = np.nonzero(alpha)
        if not len(ys):
            continue
        pasted = np.array([[x1 + xs.min(), y1 + ys.min(), x1 + xs.max() + 1, y1 + ys.max() + 1]])
        boxes, labels = occlude(item.boxes, item.labels, covered, cfg.max_hidden)
        new = DetectionItem(
            item.path,
            np.concatenate([boxes, pasted.astype(np.float64)]),
            [*labels, product.label],
        )
        return out, new
    return None


def paste_items(
    items: Sequence[DetectionItem],
    products: Sequence[CatalogProduct],
    out_dir: Path,
    cfg: PasteConfig,
) -> list[DetectionItem]:
    """``cfg.per_image`` pasted copies of each photo in ``items``, written under ``out_dir``.

    Each copy's randomness comes from (seed, photo name, copy number), so a photo gets the same
    pastes whichever other photos are in the list; files already there are not written again.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    out: list[DetectionItem] = []
    for item in items:
        image = None
        for k in range(cfg.per_image):
            result = None
            target = out_dir / f"{item.path.stem}-{k}.jpg"
            rng = _rng(cfg.seed, item.path.name, k)
            if image is None:
                image = decode_image(item.path).image
            result = paste_one(image, item, products, cfg, rng)
            if result is None:
                continue
            pasted, new = result
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                pasted.save(tmp, "JPEG", quality=95)
                tmp.replace(target)
            out.append(DetectionItem(target, new.boxes, new.labels))
    return out


def paste_key(products_csv: Path, items: Sequence[DetectionItem], cfg: PasteConfig) -> str:
    """A folder name for the pasted photos of these sources, catalog and settings."""
    parts = [str(GENERATOR_VERSION), str(products_csv.resolve()), repr(cfg)]
    parts += [str(it.path) for it in items]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
