"""Shot-type classifier: backbone features + layout/face cues → calibrated linear head.

The shipped head (``modiste/models/weights/shots_<backbone>.npz``, made by ``modiste train
shots``) is used unless a user head exists in DATA_DIR/models (written by ``modiste train shots
--out`` there or by ``modiste shots learn``), which then wins.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.domain import ShotPrediction
from modiste.errors import ConfigError, ModelError, NotFoundError
from modiste.gallery.taxonomy import CLASS_NAME
from modiste.imaging import decode_image
from modiste.models.head_refit import refit_toward
from modiste.models.heads import GatedHead, LinearHead, load_head, refine_mask
from modiste.models.shot_head import FeatureSpec, combine, spec_from_meta

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings
    from modiste.gallery.text_shots import TextShotStage
    from modiste.models.embedder import Embedder

log = logging.getLogger(__name__)
UNKNOWN = "unknown"
# With ``Settings.shot_mirror="unsure"`` a photo whose plain pass is this sure keeps it; the
# others get the mirror averaged in. Labels were identical to mirroring every photo on 685/685
# photos of four sets (docs/decisions/ingest-and-storage.md, step 6).
MIRROR_SURE = 0.9
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def shipped_head_path(backbone: str) -> Path:
    """Where the committed head for ``backbone`` lives inside the package."""
    return Path(
        str(importlib.resources.files("modiste.models").joinpath(f"weights/shots_{backbone}.npz"))
    )


def user_head_path(settings: Settings, backbone: str | None = None) -> Path:
    """The user-trained / few-shot head that overrides the shipped one."""
    return settings.model_dir / f"shots_{backbone or settings.backbone}.npz"


def load_shot_head(
    settings: Settings, backbone: str | None = None
) -> tuple[LinearHead | GatedHead, str]:
    """The head to use and its origin (``"user"`` or ``"shipped"``)."""
    bb = backbone or settings.backbone
    for path, origin in (
        (user_head_path(settings, bb), "user"),
        (shipped_head_path(bb), "shipped"),
    ):
        if path.is_file():
            return load_head(path), origin
    raise NotFoundError(
        f"no shot head for backbone {bb!r}: run `modiste train shots` or `modiste shots learn`"
    )


class ShotClassifier:
    """``predict(images) -> list[ShotPrediction]``; ``unknown`` below the head's threshold.

    The embedder must match the head's spec (pooling, size, ``flip=spec.tta``):
    :func:`create_shot_classifier` builds it so. ``text_stage`` (the OCR cue,
    :mod:`modiste.gallery.text_shots`) may re-label the photos it reads; None: the head alone.
    ``mirror_sure``: the embedder has no mirror pass in its graph (a ``tta`` head's spec, and
    ``flip=False``); the mirror runs as a second pass only for photos whose plain-pass top
    probability is under this. Head rows (:meth:`rows`) are always mirror-averaged.
    ``refine_embedder``: for a gated head with a refine expert, the embedder of its
    ``refine_backbone`` at its ``refine_size`` (the mirror in its graph when the head's
    ``refine_tta``); the gallery photos
    :func:`refine_mask` picks get a second pass through it and their gallery side from the
    refine expert.
    """

    def __init__(
        self,
        head: LinearHead | GatedHead,
        embedder: Embedder,
        threshold: float | None = None,
        source: str = "model",
        text_stage: TextShotStage | None = None,
        mirror_sure: float | None = None,
        refine_embedder: Embedder | None = None,
    ) -> None:
        self.head = head
        self.refine_embedder = refine_embedder
        self.last_refined = 0  # photos the last :meth:`proba` sent through the refine pass
        self.mirror_sure = mirror_sure
        self.text_stage = text_stage
        self.embedder = embedder
        self.spec: FeatureSpec = spec_from_meta(head.meta)
        self.threshold = float(head.meta.get("threshold", 0.5) if threshold is None else threshold)
        self.source = source
        self._cue_pool: Any = None

    @property
    def labels(self) -> list[str]:
        return list(self.head.labels)

    def rows(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Head input rows; with TTA, image and mirror features averaged (in the embedder's
        graph, or as a second pass when :attr:`mirror_sure` is set)."""
        features, cues = self._plain(images)
        if self.mirror_sure is not None and len(images):
            features = 0.5 * (features + self.embedder.predict(images, mirrored=True))
        return combine(features, cues, self.spec)

    def _plain(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray | None]:
        """The embedder's features and the cues (None when the spec has none)."""
        if not self.spec.cues:
            return self.embedder.predict(images), None
        # The cues (PIL, NumPy, OpenCV: all release the GIL) run beside ONNX Runtime's backbone
        # pass instead of after it; the results are the same, the wait is shorter.
        if self._cue_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._cue_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shot-cues")
        cues = self._cue_pool.submit(_cues, images, self.spec)
        features = self.embedder.predict(images)
        return features, cues.result()

    def proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Calibrated class probabilities (N, K) in :attr:`labels` order."""
        features, cues = self._plain(images)
        rows = combine(features, cues, self.spec)
        proba = self.head.proba(rows)
        if self.mirror_sure is not None:
            redo = np.flatnonzero(proba.max(axis=1) < self.mirror_sure)
            if redo.size:  # the mirror pass, averaged in as the graph of a ``flip`` embedder does
                mirrored = self.embedder.predict([images[int(i)] for i in redo], mirrored=True)
                features[redo] = 0.5 * (features[redo] + mirrored)
                rows[redo] = combine(
                    features[redo], None if cues is None else cues[redo], self.spec
                )
                proba[redo] = self.head.proba(rows[redo])
        return self._refine(images, features, rows, cues, proba)

    def _refine(
        self,
        images: Sequence[Image.Image],
        features: np.ndarray,
        rows: np.ndarray,
        cues: np.ndarray | None,
        proba: np.ndarray,
    ) -> np.ndarray:
        """The refine pass of a gated head that has one: the unsure gallery photos at its size
        (beside the first pass's ``features`` when the head's :attr:`~GatedHead.refine_base`)."""
        head = self.head
        self.last_refined = 0
        if not isinstance(head, GatedHead) or head.refine is None or self.refine_embedder is None:
            return proba
        side = head.gate.proba(rows)
        redo = np.flatnonzero(refine_mask(proba, side, head.refine_below))
        self.last_refined = int(redo.size)
        if redo.size:
            large = self.refine_embedder.predict([images[int(i)] for i in redo])
            if head.refine_base:
                large = np.hstack([features[redo], large])
            large_rows = combine(large, None if cues is None else cues[redo], self.spec)
            proba[redo] = head.refined(rows[redo], large_rows)
        return proba

    def predict(self, images: Sequence[Image.Image]) -> list[ShotPrediction]:
        """One prediction per image, in order."""
        if not images:
            return []
        out = []
        proba = self.proba(images)
        for row in proba:
            k = int(np.argmax(row))
            conf = float(row[k])
            scores = {lab: round(float(p), 4) for lab, p in zip(self.head.labels, row, strict=True)}
            label = self.head.labels[k] if conf >= self.threshold else UNKNOWN
            out.append(ShotPrediction(label, conf, scores, self.source))
        if self.text_stage is not None:
            from modiste.gallery.text_shots import apply_verdict, detail_labels

            verdicts = self.text_stage.refine(
                images, proba, self.head.labels, self.threshold, detail_labels(tuple(self.labels))
            )
            out = [apply_verdict(p, v) for p, v in zip(out, verdicts, strict=True)]
        return out

    def predict_paths(self, paths: Sequence[str | Path]) -> list[ShotPrediction]:
        """Decode safely (JPEG draft downscaling) and predict."""
        draft = self.spec.size * 2
        return self.predict([decode_image(p, draft_size=draft).image for p in paths])

    def learn(
        self, examples: Mapping[str, Sequence[Image.Image]], c: float | None = None
    ) -> LinearHead | GatedHead:
        """Refit the head on its stored training rows plus these examples (and their mirrors).

        The backbone is untouched; new labels become new classes, known labels get sharper.
        """
        from PIL import ImageOps

        new_x: list[np.ndarray] = []
        new_y: list[str] = []
        for label, ims in examples.items():
            new_x.append(self.rows(list(ims)))
            new_y += [label] * len(ims)
        if not new_y:
            raise ModelError("no example images to learn from")
        x_new = np.concatenate(new_x)
        x_mirror = np.concatenate(
            [self.rows([ImageOps.mirror(im) for im in ims]) for ims in examples.values() if ims]
        )
        c = c if c is not None else float(self.head.meta.get("c", 1.0))
        if isinstance(self.head, GatedHead):
            head: LinearHead | GatedHead = self._learn_gated(self.head, x_new, x_mirror, new_y, c)
        else:
            head = _refit(self.head, x_new, x_mirror, new_y, c, self.spec)
        learned = sorted(set(self.head.meta.get("few_shot_classes", [])) | set(examples))
        head.meta = {**self.head.meta, "few_shot_classes": learned}
        if isinstance(head, GatedHead) and head.refine is None:
            head = head.without_refine()
        self.head = head
        self.source = "few_shot"
        return head

    def _learn_gated(
        self, head: GatedHead, x_new: np.ndarray, x_mirror: np.ndarray, y: list[str], c: float
    ) -> GatedHead:
        """Refit the expert each example's class belongs to, then the gate on every memory row.

        A known class keeps its side; a new class goes to the side the gate already puts its
        examples on (a user's logo close-ups join the detail expert, a new model pose the
        gallery one).
        """
        y_arr = np.asarray(y)
        p_detail = head.gate.proba(x_new)[:, 1]
        side = {}
        for label in set(y):
            known = label in head.labels
            side[label] = (
                head.side_of(label)
                if known
                else ("detail" if p_detail[y_arr == label].mean() >= 0.5 else "gallery")
            )
        experts = {"gallery": head.gallery, "detail": head.detail}
        for name, expert in experts.items():
            rows = np.array([side[v] == name for v in y])
            if rows.any():
                experts[name] = _refit(
                    expert, x_new[rows], x_mirror[rows], list(y_arr[rows]), c, self.spec
                )
        # The refine expert is a second gallery expert without a memory: it stays only while
        # the gallery expert does (a taught gallery class would be missing from it).
        refine = head.refine if experts["gallery"] is head.gallery else None
        mem = [(e.memory_x, e.memory_y, n) for n, e in experts.items()]
        if any(mx is None or my is None for mx, my, _ in mem):
            raise ModelError("this head stores no training features, so it cannot be refitted")
        # The experts' memories now hold the new originals; their mirrors join the gate too,
        # each new photo weighted as in the experts.
        reps = _repeats(
            np.concatenate([head.gallery.memory_y, head.detail.memory_y]).astype(str)
            if head.gallery.memory_y is not None and head.detail.memory_y is not None
            else np.array([], dtype=str),
            y,
        )
        gx = np.concatenate(
            [mx for mx, _, _ in mem if mx is not None]
            + [np.repeat(x_new, reps - 1, 0), np.repeat(x_mirror, reps, 0)]
        )
        gy = [n for mx, _, n in mem if mx is not None for _ in range(len(mx))]
        gy += [side[v] for v in np.repeat(y, reps - 1)] + [side[v] for v in np.repeat(y, reps)]
        # Toward the shipped gate, not from the memory alone (see :func:`_refit`).
        gate = refit_toward(head.gate, gx, gy, list(GatedHead.SIDES), c=c)
        return GatedHead(gate, experts["gallery"], experts["detail"], dict(head.meta), refine)


def _repeats(memory_y: np.ndarray, new_y: Sequence[str]) -> np.ndarray:
    """How often each new row counts: a class's new photos weigh as much as its stored rows.

    A user's few real photos of a class the head already knows from many stored rows (e.g.
    generated material close-ups) would otherwise barely move it, although they are the
    best evidence of what that class looks like in this catalog. Capped at 10x. Measured on
    real material (issue #12): the weight was not why one photo cost recall (1x, sqrt and 3x
    did as badly); with the refit pulled toward the current weights 10x beats 1x (k = 1:
    0.89 vs 0.87 mean recall), so it stays.
    """
    stored = {lab: int((memory_y == lab).sum()) for lab in set(new_y)}
    counts = {lab: sum(1 for v in new_y if v == lab) for lab in set(new_y)}
    return np.array(
        [int(min(10, max(1, round(stored[v] / counts[v])))) for v in new_y], dtype=np.int64
    )


def _refit(
    head: LinearHead,
    x_new: np.ndarray,
    x_mirror: np.ndarray,
    new_y: list[str],
    c: float,
    spec: FeatureSpec,
) -> LinearHead:
    """``head`` refitted on its memory rows plus new rows and their mirrors; memory grows.

    The fit is pulled toward ``head``'s own weights (:func:`refit_toward`), not started afresh:
    refitted from the ~60-row memory alone, the shipped head lost most of its real material
    recall (0.87 -> 0.39) before any photo was taught, so one taught photo looked harmful
    (``docs/decisions/shot-classifier.md``, few-shot). ``spec`` is kept for the callers: the
    head's own standardisation already carries the cue boost.
    """
    if head.memory_x is None or head.memory_y is None:
        raise ModelError("this head stores no training features, so it cannot be refitted")
    reps = _repeats(head.memory_y.astype(str), new_y)
    x = np.concatenate([head.memory_x, np.repeat(x_new, reps, 0), np.repeat(x_mirror, reps, 0)])
    y = [*map(str, head.memory_y), *np.repeat(new_y, reps), *np.repeat(new_y, reps)]
    labels = sorted(set(y) | set(head.labels))
    out = refit_toward(head, x, y, labels, c=c)
    # Remember the new originals (not mirrors) so that the next learn builds on this one.
    out.memory_x = np.concatenate([head.memory_x, x_new])
    out.memory_y = np.concatenate([head.memory_y.astype(str), np.asarray(new_y)])
    log.info("refitted shot head on %d stored + %d new rows", len(head.memory_x), len(x_new))
    return out


def _cues(images: Sequence[Image.Image], spec: FeatureSpec) -> np.ndarray:
    from modiste.models.cues import CueExtractor

    return CueExtractor(faces=spec.cue_set == "all", frame=spec.cue_set == "layout_frame").predict(
        images
    )


def create_shot_classifier(
    settings: Settings, runtime: str = "onnx", lanes: int = 1, precision: str = "f32", **kw: Any
) -> ShotClassifier:
    """The classifier for ``settings.backbone``: the user head if present, else the shipped one.

    ``lanes`` > 1 runs that many batches at once, each on a one-thread session (the ingest).
    ``precision``: float32 whatever ``Settings.inference_precision`` says; in bfloat16 the
    labels of 1.5-4.7 % of catalog, consumer and label photos changed
    (``benchmarks.precision_bench``; ``docs/decisions/ingest-and-storage.md``, step 11).
    """
    from modiste.models.embedder import Embedder

    head, origin = load_shot_head(settings)
    spec = spec_from_meta(head.meta)
    second_pass = spec.tta and settings.shot_mirror == "unsure"
    if second_pass:
        kw.setdefault("mirror_sure", MIRROR_SURE)
    embedder = Embedder.from_settings(
        settings,
        spec.backbone,
        pooling=spec.pooling,
        flip=spec.tta and not second_pass,
        runtime=runtime,
        size=spec.size,
        lanes=lanes,
        precision=precision,
    )
    source = (
        "few_shot"
        if head.meta.get("few_shot_classes")
        else ("model" if origin == "shipped" else "user_model")
    )
    if settings.shot_ocr and "text_stage" not in kw:
        from modiste.gallery.text_shots import TEXT_CLASSES, TextShotStage

        if any(c in head.labels for c in TEXT_CLASSES):  # a head without them has no use for it
            kw["text_stage"] = TextShotStage()
    if isinstance(head, GatedHead) and head.refine_size and "refine_embedder" not in kw:
        kw["refine_embedder"] = Embedder.from_settings(
            settings,
            head.refine_backbone or spec.backbone,
            pooling=spec.pooling,
            flip=head.refine_tta,
            runtime=runtime,
            size=head.refine_size,
            lanes=lanes,
            precision=precision,
        )
    return ShotClassifier(head, embedder, source=source, **kw)


def read_example_folder(folder: Path) -> dict[str, list[Image.Image]]:
    """``folder/<class>/*.jpg`` → images per class (unreadable files are skipped with a warning)."""
    from modiste.errors import ImageDecodeError

    if not folder.is_dir():
        raise NotFoundError(f"not a folder: {folder}")
    out: dict[str, list[Image.Image]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name == UNKNOWN or not CLASS_NAME.match(sub.name):
            raise ConfigError(
                f"{sub}: class folders are named as shot classes are in regulations "
                f"(lower_snake_case: a-z, 0-9, _); {UNKNOWN!r} is reserved"
            )
        ims = []
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                ims.append(decode_image(f, draft_size=512).image)
            except ImageDecodeError as e:
                log.warning("skipping %s: %s", f, e)
        if ims:
            out[sub.name] = ims
    if not out:
        raise NotFoundError(f"no class sub-folders with images in {folder}")
    return out


def learn_shots(settings: Settings, folder: Path) -> tuple[Path, dict[str, int]]:
    """``modiste shots learn``: refit from example folders and save the user head."""
    clf = create_shot_classifier(settings)
    examples = read_example_folder(folder)
    head = clf.learn(examples)
    path = user_head_path(settings, clf.spec.backbone)
    head.save(path)
    return path, {k: len(v) for k, v in examples.items()}
