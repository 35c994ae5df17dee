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

from modiste.models.heads import (
    REFINE_BELOW,
    GatedHead,
    LinearHead,
    combine_sides,
    fit_temperature,
    refine_mask,
    softmax,
)
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
    "cross_validate_gated",
    "detail_side",
    "fit_expert",
    "fit_gated",
    "fit_head",
    "fold_indices",
    "memory_subsample",
    "n_cues",
    "spec_from_meta",
    "train_final",
    "train_final_gated",
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
        self.embedder = Embedder.from_settings(
            settings, spec.backbone, pooling=spec.pooling, size=spec.size
        )

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
        """Full :data:`CUE_NAMES` rows; the frame cues are cached apart (and only computed for
        a cue set that reads them), so caches written before they existed stay valid."""
        from modiste.models.cues import FRAME_CUES, LAYOUT_END, CueExtractor, frame_cues, small_rgb

        ext = CueExtractor()
        tag = "flip" if flip else "orig"
        base = self._get(
            f"cues-{tag}", paths, lambda ps: ext.predict(self._images(ps, flip))[:, :LAYOUT_END]
        )
        if self.spec.cue_set != "layout_frame":
            return np.pad(base, ((0, 0), (0, FRAME_CUES)))
        frame = self._get(
            f"frame-{tag}",
            paths,
            lambda ps: np.array(
                [frame_cues(small_rgb(im)) for im in self._images(ps, flip)], np.float32
            ).reshape(-1, FRAME_CUES),
        )
        return np.concatenate([base, frame], axis=1)

    def rows(
        self,
        paths: Sequence[Path],
        progress: Progress | None = None,
        tta: bool = True,
        base: FeatureBuilder | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Head inputs for originals, mirrored copies (augmentation), and the rows prediction
        reads: with ``tta`` the flip-TTA rows, else the originals again.

        TTA rows average the pooled features of an image and its mirror, exactly what the
        exported graph computes at prediction (``Embedder(flip=True)``); layout cues are mirror
        invariant, so the original's cues serve.

        With ``base`` (the first pass's builder: a refine expert's rows) a row is [base pooled ‖
        this size's pooled], then the cues. The base part is read as the first pass left it:
        mirror-averaged when the base spec has TTA (the photos a refine pass reads are unsure,
        so the mirror pass has run on them).
        """
        cues_o = self.cues(paths) if self.spec.cues else None
        cues_f = self.cues(paths, flip=True) if self.spec.cues else None
        p_o = self.pooled(paths, progress=progress)
        p_f = self.pooled(paths, flip=True, progress=progress)
        p_r = 0.5 * (p_o + p_f) if tta else p_o
        if base is not None:
            b_o, b_f = base.pooled(paths), base.pooled(paths, flip=True)
            b_r = 0.5 * (b_o + b_f) if base.spec.tta else b_o
            p_o, p_f, p_r = np.hstack([b_o, p_o]), np.hstack([b_f, p_f]), np.hstack([b_r, p_r])
        return (
            combine(p_o, cues_o, self.spec),
            combine(p_f, cues_f, self.spec),
            combine(p_r, cues_o, self.spec),
        )


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
    labels = sorted({s.label for s in samples})
    y = np.array([s.label for s in samples])
    oof_logits = np.zeros((len(samples), len(labels)), np.float32)
    for train, test in fold_indices(samples, folds, seed):
        xt, yt = x_o[train], y[train]
        if flip_aug:
            xt, yt = np.concatenate([xt, x_f[train]]), np.concatenate([yt, yt])
        head = fit_head(xt, list(yt), labels, c=c, boost_last=boost_last, boost=boost)
        lo = head.logits(x_o[test])
        if tta and x_t is not None:
            lo = head.logits(x_t[test])
        oof_logits[test] = lo
    return oof_logits, labels


def fold_indices(
    samples: Sequence[ShotSample], folds: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, stratified folds of the real photos; extra (generated) rows follow their group.

    The real photos are split exactly as they would be without any extra rows, so adding a
    generated set does not move a real photo to another fold: Magento figures with and without
    it compare like for like (with 342 photos, a different split alone moves accuracy by ~2
    points). A generated crop joins the fold of the real photo group it was cut from, or a
    fold drawn from its group name when that group has no real photo here.
    """
    import zlib

    from sklearn.model_selection import StratifiedGroupKFold

    real = np.array([i for i, s in enumerate(samples) if s.source != "extra"])
    if len(real) < folds:  # a generated set alone: split it by its own groups
        real = np.arange(len(samples))
    fold = np.full(len(samples), -1)
    y = np.array([samples[i].label for i in real])
    groups = np.array([samples[i].group for i in real])
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(real)), y, groups)):
        fold[real[test]] = k
    by_group = {samples[i].group: int(fold[i]) for i in real}
    for i, s in enumerate(samples):
        if fold[i] < 0:
            fold[i] = by_group.get(s.group, zlib.crc32(f"{seed}:{s.group}".encode()) % folds)
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]


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
    head.meta = _head_meta(spec, threshold, c, flip_aug, len(samples))
    head.memory_x, head.memory_y = memory_subsample(x_o, y, MEMORY_PER_CLASS)
    return head


def _head_meta(
    spec: FeatureSpec, threshold: float, c: float, flip_aug: bool, n_train: int
) -> dict[str, Any]:
    """What a head file says about how it was made (the classifier reads spec and threshold)."""
    return {**spec.as_meta(), "threshold": threshold, "c": c, "flip_aug": flip_aug,
            "n_train": n_train}  # fmt: skip


def calibrate(oof_logits: np.ndarray, labels: Sequence[str], y: Sequence[str]) -> float:
    """Temperature from out-of-fold logits."""
    idx = {lab: i for i, lab in enumerate(labels)}
    return fit_temperature(oof_logits, np.array([idx[v] for v in y]))


def detail_side(samples: Sequence[ShotSample]) -> np.ndarray:
    """Which rows belong to the gated head's detail side: every class of the generated rows."""
    generated = {s.label for s in samples if s.source == "extra"}
    return np.array([s.label in generated for s in samples])


def fit_gated(
    x_o: np.ndarray,
    x_f: np.ndarray,
    y: Sequence[str],
    detail: np.ndarray,
    spec: FeatureSpec,
    c: float = 1.0,
    flip_aug: bool = True,
) -> GatedHead:
    """Gate (gallery vs detail side) on all rows, each expert on its own side's rows."""
    xt, dt = _with_mirrors(x_o, x_f, flip_aug, detail)
    sides = [GatedHead.SIDES[int(d)] for d in dt]
    return GatedHead(
        gate=fit_head(xt, sides, list(GatedHead.SIDES), **_fit_kw(spec, c)),
        gallery=fit_expert(x_o, x_f, y, ~detail, spec, c, flip_aug),
        detail=fit_expert(x_o, x_f, y, detail, spec, c, flip_aug),
    )


def fit_expert(
    x_o: np.ndarray,
    x_f: np.ndarray,
    y: Sequence[str],
    rows: np.ndarray,
    spec: FeatureSpec,
    c: float = 1.0,
    flip_aug: bool = True,
) -> LinearHead:
    """One expert of a gated head on ``rows`` (a side's mask) and, with ``flip_aug``, their
    mirrors. The refine expert is the gallery one's recipe on rows of the larger input."""
    y_arr = np.asarray(y)[rows]
    xt, yt = _with_mirrors(x_o[rows], x_f[rows], flip_aug, y_arr)
    return fit_head(xt, list(yt), sorted(set(y_arr)), **_fit_kw(spec, c))


def _with_mirrors(
    x_o: np.ndarray, x_f: np.ndarray, flip_aug: bool, *columns: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Training rows: the originals, and with ``flip_aug`` their mirrors after them; each of
    ``columns`` (labels, side flags) repeated to match."""
    if not flip_aug:
        return (x_o, *columns)
    return (np.concatenate([x_o, x_f]), *(np.concatenate([c, c]) for c in columns))


def _fit_kw(spec: FeatureSpec, c: float) -> dict[str, Any]:
    """:func:`fit_head` settings every expert of a shot head shares."""
    return {"c": c, "boost_last": n_cues(spec), "boost": spec.cue_weight}


def cross_validate_gated(
    samples: Sequence[ShotSample],
    x_o: np.ndarray,
    x_f: np.ndarray,
    x_t: np.ndarray,
    spec: FeatureSpec,
    folds: int = 5,
    flip_aug: bool = True,
    c: float = 1.0,
    seed: int = 0,
    large: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    refine_below: float = REFINE_BELOW,
) -> tuple[np.ndarray, list[str], tuple[float, ...]]:
    """Out-of-fold calibrated probabilities of a gated head, its labels and temperatures.

    Each part gets its temperature from its own out-of-fold logits (gate on all rows, each
    expert on its side's rows), then the parts are combined. ``large`` (original and mirrored
    rows of the same photos at a larger input, and the rows the refine pass reads: see
    :meth:`FeatureBuilder.rows`) adds a refine expert, fitted and calibrated like the
    gallery one; the photos :func:`refine_mask` picks get their gallery side from it, as
    :class:`~modiste.gallery.classifier.ShotClassifier` does at prediction.
    """
    y = np.array([s.label for s in samples])
    detail = detail_side(samples)
    parts: list[np.ndarray] | None = None
    head: GatedHead | None = None
    for train, test in fold_indices(samples, folds, seed):
        head = fit_gated(x_o[train], x_f[train], list(y[train]), detail[train], spec, c, flip_aug)
        x = x_t[test] if spec.tta else x_o[test]
        got = [head.gate.logits(x), head.gallery.logits(x), head.detail.logits(x)]
        if large is not None:
            lo, lf, lr = large
            refine = fit_expert(
                lo[train], lf[train], list(y[train]), ~detail[train], spec, c, flip_aug
            )
            got.append(refine.logits(lr[test]))
        if parts is None:
            parts = [np.zeros((len(y), g.shape[1]), np.float32) for g in got]
        for p, g in zip(parts, got, strict=True):
            p[test] = g
    assert parts is not None and head is not None
    t_gate = calibrate(parts[0], list(GatedHead.SIDES), [GatedHead.SIDES[int(d)] for d in detail])
    t_gal = calibrate(parts[1][~detail], head.gallery.labels, list(y[~detail]))
    t_det = calibrate(parts[2][detail], head.detail.labels, list(y[detail]))
    side = softmax(parts[0] / t_gate)
    det = softmax(parts[2] / t_det)
    proba = combine_sides(side, softmax(parts[1] / t_gal), det)
    if large is None:
        return proba, head.labels, (t_gate, t_gal, t_det)
    t_ref = calibrate(parts[3][~detail], head.gallery.labels, list(y[~detail]))
    redo = refine_mask(proba, side, refine_below)
    proba[redo] = combine_sides(side[redo], softmax(parts[3][redo] / t_ref), det[redo])
    return proba, head.labels, (t_gate, t_gal, t_det, t_ref)


def train_final_gated(
    samples: Sequence[ShotSample],
    x_o: np.ndarray,
    x_f: np.ndarray,
    spec: FeatureSpec,
    temperatures: tuple[float, ...],
    c: float = 1.0,
    flip_aug: bool = True,
    threshold: float = 0.5,
    large: tuple[np.ndarray, np.ndarray, int] | None = None,
    refine_below: float = REFINE_BELOW,
    refine_tta: bool = True,
    refine_base: bool = False,
    refine_backbone: str | None = None,
) -> GatedHead:
    """The gated head on all samples, with per-part calibration and a per-expert memory.

    ``large`` (original and mirrored rows at a larger input, and that input's side) adds the
    refine expert; ``temperatures`` then has its temperature fourth. ``refine_base``: its rows
    hold the first pass's pooled features before the larger input's
    (:meth:`FeatureBuilder.rows` with ``base``); ``refine_backbone``: the backbone those larger
    rows came from (None: the spec's).
    """
    y = [s.label for s in samples]
    detail = detail_side(samples)
    head = fit_gated(x_o, x_f, y, detail, spec, c, flip_aug)
    head.meta = {**_head_meta(spec, threshold, c, flip_aug, len(samples)), "gated": True}
    if large is not None:
        head.refine = fit_expert(large[0], large[1], y, ~detail, spec, c, flip_aug)
        head.meta.update(
            refine_size=int(large[2]),
            refine_below=float(refine_below),
            refine_tta=bool(refine_tta and spec.tta),
            refine_base=bool(refine_base),
            refine_backbone=refine_backbone or spec.backbone,
        )
    parts = (head.gate, head.gallery, head.detail, head.refine)
    for part, t in zip(parts, temperatures, strict=False):
        if part is not None:
            part.temperature = t
    y_arr = np.asarray(y)
    for part, rows in ((head.gallery, ~detail), (head.detail, detail)):
        part.memory_x, part.memory_y = memory_subsample(
            x_o[rows], list(y_arr[rows]), MEMORY_PER_CLASS
        )
    return head
