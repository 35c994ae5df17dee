"""Real photos for the shot head, and a feature cache so heads can be iterated on cheaply.

Sources (see ../shared/datasets/README.md): Magento Luma galleries (near_front, near_back,
near_zoom, packshot, far_front), CCP street photos (far_front), clothing-dataset consumer photos
(flat_front). tags_fabrics is evaluation-only by its README, so it is used only when asked for.
Extra gallery CSVs (e.g. the generated set of ``modiste train shots-synth``) join them.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modiste.errors import ConfigError, NotFoundError

log = logging.getLogger(__name__)
FLAT_EXCLUDE = {"Shoes", "Hat", "Not sure", "Other", "Skip"}  # not garment flat-lays


@dataclass(frozen=True, slots=True)
class ShotSample:
    """One labelled photo; ``group`` keeps photos of one style/contributor in one CV fold."""

    path: Path
    label: str
    group: str
    product_id: str
    source: str


def _rows(csv_path: Path) -> list[dict[str, str]]:
    if not csv_path.is_file():
        raise NotFoundError(f"data set file not found: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def gallery_samples(csv_path: Path, source: str = "gallery") -> list[ShotSample]:
    """A gallery CSV (``product_id, image_path, shot`` [, ``style_id``])."""
    out = []
    for line, r in enumerate(_rows(csv_path), start=2):
        if not r.get("image_path") or not r.get("shot") or not r.get("product_id"):
            raise ConfigError(f"{csv_path} line {line}: needs product_id, image_path and shot")
        group = r.get("style_id") or r["product_id"]
        out.append(
            ShotSample(csv_path.parent / r["image_path"], r["shot"], group, r["product_id"], source)
        )
    return out


def load_shot_dataset(
    datasets_dir: Path,
    n_flat: int = 300,
    n_far: int = 300,
    include_tags: bool = False,
    seed: int = 0,
    extra: Sequence[Path] = (),
) -> list[ShotSample]:
    """The training set: all of Magento plus seeded subsamples of CCP and clothing-dataset.

    ``extra`` gallery CSVs are added as they are (source ``extra``); their ``style_id`` column,
    when present, groups their rows for CV (generated crops carry their source photo's group).
    """
    rng = random.Random(seed)
    samples = gallery_samples(datasets_dir / "magento_luma" / "gallery.csv", "magento")
    ccp = datasets_dir / "ccp_street" / "images.csv"
    rows = _rows(ccp)
    for r in rng.sample(rows, min(n_far, len(rows))):
        samples.append(
            ShotSample(
                ccp.parent / r["image_path"],
                "far_front",
                "ccp" + r["image_id"],
                r["image_id"],
                "ccp",
            )
        )
    cloth = datasets_dir / "clothing_dataset" / "labels.csv"
    rows = [r for r in _rows(cloth) if r["label"] not in FLAT_EXCLUDE and r["kids"] != "True"]
    for r in rng.sample(rows, min(n_flat, len(rows))):
        pid = Path(r["image_path"]).stem
        samples.append(
            ShotSample(
                cloth.parent / r["image_path"],
                "flat_front",
                "sender" + r["sender_id"],
                pid,
                "clothing",
            )
        )
    if include_tags:
        samples += gallery_samples(datasets_dir / "tags_fabrics" / "gallery.csv", "tags_fabrics")
    for path in extra:
        samples += gallery_samples(path, "extra")
    return samples


class FeatureCache:
    """Feature rows per image, one ``.npz`` per feature kind, for fast reruns.

    A row is keyed by the image's resolved path, size and modification time, so adding photos
    (a bigger generated set, another ``--extra`` CSV) computes only the new ones, and a photo
    rewritten in place (a regenerated set) is computed again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _key(path: Path) -> str:
        resolved = Path(path).resolve()
        try:
            st = resolved.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        return hashlib.sha256(f"{resolved}\n{stamp}".encode()).hexdigest()[:24]

    def _load(self, file: Path) -> dict[str, np.ndarray]:
        if not file.is_file():
            return {}
        try:
            with np.load(file) as z:
                return dict(zip(z["keys"].tolist(), np.asarray(z["x"]), strict=True))
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: start over
            log.warning("ignoring unreadable feature cache %s: %s", file, exc)
            return {}

    def get(
        self,
        kind: str,
        paths: Sequence[Path],
        compute: Callable[[Sequence[Path]], np.ndarray],
    ) -> np.ndarray:
        """Rows for ``paths`` from the cache, computing (and storing) only what is missing."""
        file = self.root / f"{kind}.npz"
        rows = self._load(file)
        keys = [self._key(p) for p in paths]
        todo = sorted({i for i, k in enumerate(keys) if k not in rows})
        if todo:
            fresh = compute([paths[i] for i in todo])
            rows.update({keys[i]: fresh[j] for j, i in enumerate(todo)})
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(".tmp.npz")
            names = list(rows)
            np.savez(tmp, keys=np.array(names), x=np.stack([rows[k] for k in names]))
            tmp.replace(file)
            log.info("cached %s features for %d new images at %s", kind, len(todo), file)
        if not keys:
            return compute(paths)
        return np.stack([rows[k] for k in keys])
