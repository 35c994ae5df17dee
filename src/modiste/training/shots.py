"""Train the shot-type head: features (backbone + cues) → logistic head → temperature.

``modiste train shots`` runs this. Grouped cross-validation (by style / contributor) gives the
honest held-out figures; the shipped head is then fitted on all the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modiste.models.heads import LinearHead, fit_temperature
from modiste.models.shot_head import (  # re-exported: training code and tests import them here
    FeatureSpec,
    combine,
    fit_head,
    n_cues,
    spec_from_meta,
)
from modiste.training.shot_data import FeatureCache, ShotSample

__all__ = [
    "FeatureBuilder",
    "FeatureSpec",
    "calibrate",
    "combine",
    "cross_validate",
    "fit_head",
    "memory_subsample",
    "n_cues",
    "spec_from_meta",
    "train_final",
]
log = logging.getLogger(__name__)
Progress = Callable[[int], None]
MEMORY_PER_CLASS = 60  # stored training rows per class for few-shot refits (keeps file < 5 MB)


class FeatureBuilder:
    """Computes (and caches) backbone features for original and mirrored images, and cues."""

    def __init__(self, spec: FeatureSpec, settings: Any, cache: FeatureCache | None = None) -> None:
        from modiste.models.embedder import Embedder

        self.spec = spec
        self.cache = cache
        self.embedder = Embedder.from_settings(settings, spec.backbone, pooling=spec.pooling)
        if spec.size != self.embedder.cfg.image_size:
            self.embedder.cfg = self.embedder.cfg.with_size(spec.size)

    def _images(self, paths: Sequence[Path], flip: bool) -> list[Any]:
        from PIL import ImageOps

        from modiste.imaging import decode_image

        ims = [decode_image(p, draft_size=self.spec.size * 2).image for p in paths]
        return [ImageOps.mirror(im) for im in ims] if flip else ims

    def _get(
        self, kind: str, paths: Sequence[Path], fn: Callable[[Sequence[Path]], np.ndarray]
    ) -> np.ndarray:
        if self.cache is None:
            return fn(paths)
        return self.cache.get(kind, paths, fn)

    def pooled(
        self, paths: Sequence[Path], flip: bool = False, progress: Progress | None = None
    ) -> np.ndarray:
        s = self.spec
        name = s.backbone.replace(":", "_").replace("/", "_")
        kind = f"{name}-{s.pooling}-{s.size}-{'flip' if flip else 'orig'}"

        def compute(ps: Sequence[Path]) -> np.ndarray:
            out = []
            for i in range(0, len(ps), 16):
                out.append(self.embedder.predict(self._images(ps[i : i + 16], flip)))
                if progress:
                    progress(len(ps[i : i + 16]))
            return np.concatenate(out) if out else np.zeros((0, self.embedder.dim), np.float32)

        return self._get(kind, paths, compute)

    def cues(self, paths: Sequence[Path], flip: bool = False) -> np.ndarray:
        from modiste.models.cues import CueExtractor

        ext = CueExtractor()
        return self._get(
            f"cues-{'flip' if flip else 'orig'}",
            paths,
            lambda ps: ext.predict(self._images(ps, flip)),
        )

    def rows(
        self, paths: Sequence[Path], progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Head inputs for originals, mirrored copies (augmentation) and flip-TTA rows.

        TTA rows average the pooled features of an image and its mirror, exactly what the
        exported graph computes at prediction (``Embedder(flip=True)``); layout cues are mirror
        invariant, so the original's cues serve.
        """
        cues_o = self.cues(paths) if self.spec.cues else None
        cues_f = self.cues(paths, flip=True) if self.spec.cues else None
        p_o = self.pooled(paths, progress=progress)
        p_f = self.pooled(paths, flip=True, progress=progress)
        x_t = combine(0.5 * (p_o + p_f), cues_o, self.spec)
        return combine(p_o, cues_o, self.spec), combine(p_f, cues_f, self.spec), x_t


def cross_validate(
    samples: Sequence[ShotSample],
    x_o: np.ndarray,
    x_f: np.ndarray,
    folds: int = 5,
    flip_aug: bool = True,
    c: float = 1.0,
    tta: bool = False,
    seed: int = 0,
    boost_last: int = 0,
    boost: float = 1.0,
    x_t: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold probabilities (N, K) with groups (styles, contributors) kept within a fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = sorted({s.label for s in samples})
    y = np.array([s.label for s in samples])
    groups = np.array([s.group for s in samples])
    oof_logits = np.zeros((len(samples), len(labels)), np.float32)
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(x_o, y, groups):
        xt, yt = x_o[train], y[train]
        if flip_aug:
            xt, yt = np.concatenate([xt, x_f[train]]), np.concatenate([yt, yt])
        head = fit_head(xt, list(yt), labels, c=c, boost_last=boost_last, boost=boost)
        lo = head.logits(x_o[test])
        if tta and x_t is not None:
            lo = head.logits(x_t[test])
        oof_logits[test] = lo
    return oof_logits, labels


def memory_subsample(
    x: np.ndarray, y: Sequence[str], per_class: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``per_class`` rows of each class, kept in the head file for few-shot refits."""
    rng = np.random.default_rng(seed)
    y_arr = np.asarray(y)
    keep: list[int] = []
    for lab in sorted(set(y_arr)):
        idx = np.flatnonzero(y_arr == lab)
        keep += list(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    keep.sort()
    return x[keep], y_arr[keep]


def train_final(
    samples: Sequence[ShotSample],
    x_o: np.ndarray,
    x_f: np.ndarray,
    spec: FeatureSpec,
    temperature: float,
    c: float = 1.0,
    flip_aug: bool = True,
    threshold: float = 0.5,
) -> LinearHead:
    """Fit the head on all samples, attach calibration, metadata and a few-shot memory."""
    labels = sorted({s.label for s in samples})
    y = [s.label for s in samples]
    xt, yt = (np.concatenate([x_o, x_f]), y + y) if flip_aug else (x_o, y)
    head = fit_head(xt, yt, labels, c=c, boost_last=n_cues(spec), boost=spec.cue_weight)
    head.temperature = temperature
    head.meta = {
        **spec.as_meta(),
        "threshold": threshold,
        "c": c,
        "flip_aug": flip_aug,
        "n_train": len(samples),
    }
    head.memory_x, head.memory_y = memory_subsample(x_o, y, MEMORY_PER_CLASS)
    return head


def calibrate(oof_logits: np.ndarray, labels: Sequence[str], y: Sequence[str]) -> float:
    """Temperature from out-of-fold logits."""
    idx = {lab: i for i, lab in enumerate(labels)}
    return fit_temperature(oof_logits, np.array([idx[v] for v in y]))
