"""Photo features for the title + photo categorizer: the shipped backbone's pooled vector.

The spec (backbone, pooling, size, flip) is the shot head's, so the ONNX graph the shots stage
exported is the one reused here (same cache key) and ingest builds no second network. Rows whose
photo is missing or unreadable get a NaN row: the categorizer then falls back to the title.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.errors import ModisteError

if TYPE_CHECKING:
    from modiste.config import Settings
    from modiste.models.embedder import Embedder

log = logging.getLogger(__name__)
DRAFT = 320  # decode JPEGs at >= this short side; the backbone runs at 224
CHUNK = 64


@dataclass(frozen=True)
class PhotoSpec:
    """Which features a photo head reads; stored in the model so loading rebuilds the same."""

    backbone: str = "mobilenet_v2"
    pooling: str = "avgmax"
    size: int = 224
    flip: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhotoSpec:
        return cls(**d)


def photo_embedder(spec: PhotoSpec, settings: Settings | None = None, **kw: Any) -> Embedder:
    """The embedder for ``spec`` (weights from the data folder's models first, as ingest does)."""
    from modiste.models.embedder import Embedder
    from modiste.models.registry import create_backbone

    kw.update(pooling=spec.pooling, flip=spec.flip, size=spec.size)
    if settings is not None:
        return Embedder.from_settings(settings, spec.backbone, **kw)
    return Embedder(create_backbone(spec.backbone), **kw)


def embed_photos(
    sources: Sequence[bytes | Path | None],
    embedder: Embedder,
    cache: FeatureCache | None = None,
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """(features with a NaN row where there is no usable photo, [(row, reason)] for bad photos).

    A missing source (None) is not an error; an unreadable one is reported and the rest go on.
    """
    out = np.full((len(sources), embedder.dim), np.nan, dtype=np.float32)
    errors: list[tuple[int, str]] = []
    for start in range(0, len(sources), CHUNK):  # bounded memory: CHUNK decoded photos at a time
        todo = _decode(sources, start, out, errors, cache)
        if todo:
            feats = embedder.predict([im for _, _, im in todo])
            for (i, digest, _), f in zip(todo, feats, strict=True):
                out[i] = f
                if cache is not None:
                    cache.put(digest, f)
    if cache is not None:
        cache.save()
    return out, errors


def _decode(
    sources: Sequence[bytes | Path | None],
    start: int,
    out: np.ndarray,
    errors: list[tuple[int, str]],
    cache: FeatureCache | None,
) -> list[tuple[int, str, Any]]:
    """Photos of one chunk to embed; cached rows go straight into ``out``, bad ones to errors."""
    from modiste.imaging import decode_image

    todo: list[tuple[int, str, Any]] = []
    for i in range(start, min(start + CHUNK, len(sources))):
        src = sources[i]
        if src is None:
            continue
        try:
            data = src if isinstance(src, bytes) else Path(src).read_bytes()
        except OSError as e:
            errors.append((i, f"cannot read photo: {e.strerror or e}"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        hit = cache.get(digest) if cache is not None else None
        if hit is not None:
            out[i] = hit
            continue
        try:
            image = decode_image(data, draft_size=DRAFT, name=_name(src)).image
        except ModisteError as e:
            errors.append((i, str(e)))
            continue
        todo.append((i, digest, image))
    return todo


def _name(src: bytes | Path) -> str:
    return "photo" if isinstance(src, bytes) else Path(src).name


class FeatureCache:
    """Features by photo sha256 in one ``.npz`` per embedder key: train and eval embed once."""

    def __init__(self, folder: Path, key: str) -> None:
        self.path = Path(folder) / f"{key}.npz"
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    self._rows = dict(zip(z["keys"].tolist(), z["features"], strict=True))
            except (OSError, ValueError, KeyError) as e:  # a broken cache is rebuilt, not fatal
                log.warning("ignoring unreadable feature cache %s: %s", self.path, e)

    def get(self, digest: str) -> np.ndarray | None:
        return self._rows.get(digest)

    def put(self, digest: str, features: np.ndarray) -> None:
        self._rows[digest] = np.asarray(features, dtype=np.float32)
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        keys = sorted(self._rows)
        np.savez(
            tmp, keys=np.array(keys, dtype=str), features=np.stack([self._rows[k] for k in keys])
        )
        tmp.replace(self.path)
        self._dirty = False
