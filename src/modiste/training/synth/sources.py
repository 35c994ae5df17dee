"""Real garment photos the generators cut from, and what simple geometry says about each.

Sources are Magento Luma studio photos (on-model and packshots, 512 px) and clothing-dataset
consumer photos of garments laid flat or on hangers (320 px). ``tags_fabrics`` is refused: its
licence keeps it for evaluation. Without the data sets, :meth:`SourcePool.generated` draws
garment-like images so that tests (and a demo) run anywhere.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modiste.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)
EVAL_ONLY = "tags_fabrics"  # evaluation-only by its licence: never a generator source
FLAT_EXCLUDE = {"Shoes", "Hat", "Not sure", "Other", "Skip"}
TOPS = {
    "T-Shirt",
    "Longsleeve",
    "Shirt",
    "Polo",
    "Hoodie",
    "Blouse",
    "Top",
    "Outwear",
    "Blazer",
    "Undershirt",
    "Body",
    "Dress",
}
LONG_SLEEVES = {"Longsleeve", "Shirt", "Hoodie", "Outwear", "Blazer", "Blouse"}


@dataclass
class SourcePhoto:
    """One real (or generated) photo: ``kind`` is ``model``, ``packshot``, ``flat`` or
    ``closeup`` (a studio close-up: cut only for material, it has no garment geometry)."""

    key: str  # stable id, written in the generated CSV's note
    group: str  # CV group: all images cut from one style/contributor stay in one fold
    kind: str
    garment: str
    path: Path | None = None
    image: Image.Image | None = field(default=None, repr=False)

    def load(self, long_side: int = 512) -> Image.Image:
        """The photo as RGB, at most ``long_side`` px (safe decoder for files)."""
        if self.image is not None:
            return self.image.convert("RGB")
        from modiste.imaging import decode_image

        assert self.path is not None
        return decode_image(self.path, draft_size=long_side).image.convert("RGB")


class Layout:
    """Foreground mask, box, edges and skin of one photo (the 'simple geometry')."""

    def __init__(self, image: Image.Image) -> None:
        self.rgb = np.asarray(image.convert("RGB"))
        self.h, self.w = self.rgb.shape[:2]

    @cached_property
    def mask(self) -> np.ndarray:
        """Pixels unlike the border's median colour (white studio or plain floor)."""
        import cv2

        rgb = self.rgb.astype(np.int16)
        b = max(2, min(self.h, self.w) // 40)
        border = np.concatenate(
            [rgb[:b].reshape(-1, 3), rgb[-b:].reshape(-1, 3), rgb[:, :b].reshape(-1, 3)]
        )
        bg = np.median(np.concatenate([border, rgb[:, -b:].reshape(-1, 3)]), axis=0)
        fg = (np.abs(rgb - bg).max(axis=2) > 28).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(fg)
        if n <= 1:
            return np.zeros((self.h, self.w), bool)
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        return np.asarray(lab == biggest)

    @cached_property
    def box(self) -> tuple[int, int, int, int] | None:
        """Foreground bounding box (x0, y0, x1, y1), None when the photo has no clear garment."""
        ys, xs = np.nonzero(self.mask)
        if len(ys) < 0.03 * self.h * self.w:
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    @cached_property
    def edges(self) -> np.ndarray:
        import cv2

        gray = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
        return np.asarray(cv2.Canny(gray, 60, 150) > 0)

    @cached_property
    def skin(self) -> np.ndarray:
        import cv2

        ycc = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2YCrCb)
        cr, cb = ycc[..., 1], ycc[..., 2]
        return np.asarray((cr >= 135) & (cr <= 173) & (cb >= 77) & (cb <= 127))

    def share(self, arr: np.ndarray, box: tuple[int, int, int, int]) -> float:
        """Mean of a boolean map inside ``box`` (0 for an empty box)."""
        x0, y0, x1, y1 = box
        part = arr[max(0, y0) : y1, max(0, x0) : x1]
        return float(part.mean()) if part.size else 0.0


class SourcePool:
    """The photos generators draw from, per kind, in a fixed order (reproducible sampling)."""

    def __init__(self, photos: list[SourcePhoto]) -> None:
        if not photos:
            raise NotFoundError("no source photos for the shot-data generators")
        self.photos = photos

    def of(self, kinds: set[str], garments: set[str] | None = None) -> list[SourcePhoto]:
        """Photos of these kinds (and garment labels, if given); may be empty."""
        return [
            p
            for p in self.photos
            if p.kind in kinds and (garments is None or p.garment in garments)
        ]

    def pick(
        self, rng: np.random.Generator, kinds: set[str], garments: set[str] | None = None
    ) -> SourcePhoto:
        """A random photo of these kinds, falling back to any photo of them, then any at all."""
        for cand in (self.of(kinds, garments), self.of(kinds), self.photos):
            if cand:
                return cand[int(rng.integers(len(cand)))]
        raise NotFoundError("no source photos")  # pragma: no cover - __init__ forbids it

    @classmethod
    def from_datasets(cls, datasets_dir: Path) -> SourcePool:
        """Magento Luma (on-model, packshots) and clothing-dataset garments; never tags_fabrics."""
        if EVAL_ONLY in datasets_dir.parts:
            raise ConfigError(f"{EVAL_ONLY} is for evaluation only: not a generator source")
        photos: list[SourcePhoto] = []
        luma = datasets_dir / "magento_luma" / "gallery.csv"
        if luma.is_file():
            for r in _rows(luma):
                view = r.get("source_view", "")
                kind = "model" if view.startswith("model_") else "packshot"
                if view == "alt_closeup":  # fabric shown large: a source for material only
                    kind = "closeup"
                photos.append(
                    SourcePhoto(
                        f"magento_luma/{r['image_path']}",
                        r.get("style_id") or r["product_id"],  # the group shot_data gives it
                        kind,
                        r.get("category", ""),
                        luma.parent / r["image_path"],
                    )
                )
        cloth = datasets_dir / "clothing_dataset" / "labels.csv"
        if cloth.is_file():
            for r in _rows(cloth):
                if r["label"] in FLAT_EXCLUDE or r.get("kids") == "True":
                    continue
                photos.append(
                    SourcePhoto(
                        f"clothing_dataset/{r['image_path']}",
                        "sender" + r["sender_id"],  # the group shot_data gives these photos
                        "flat",
                        r["label"],
                        cloth.parent / r["image_path"],
                    )
                )
        if not photos:
            raise NotFoundError(
                f"no magento_luma/gallery.csv or clothing_dataset/labels.csv under {datasets_dir}"
            )
        log.info("generator sources: %d photos from %s", len(photos), datasets_dir)
        return cls(photos)

    @classmethod
    def generated(cls, n: int = 8, seed: int = 0, side: int = 320) -> SourcePool:
        """Drawn garments (a shirt shape with stripes/dots on a plain floor or white).

        For tests and for trying the generators without the data sets; not for training.
        """
        from modiste.training.synth.fabric import drawn_garment

        rng = np.random.default_rng(seed)
        photos = []
        for i in range(n):
            kind = ("flat", "model", "packshot")[i % 3]
            garment = "Longsleeve" if kind != "packshot" else "Bag"
            im = drawn_garment(rng, side, long_sleeves=i % 2 == 0, white=kind != "flat")
            photos.append(SourcePhoto(f"generated/{i}", f"generated{i}", kind, garment, None, im))
        return cls(photos)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
