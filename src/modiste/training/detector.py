"""Train the garment detector head on a detection set (CCP street photos by default).

The backbone up to stride 16 stays frozen, so its feature maps are computed once per image and per
mirror image, cached, and the head (with, by default, a fine-tuned copy of the stride-32 stage)
trains on the cache for many epochs in minutes on a CPU. The split
into train and held-out images is by image, deterministic in the seed, and the held-out list is
written to a CSV that ``modiste eval detect --images`` takes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.domain import Garment
from modiste.errors import ConfigError, ModelError
from modiste.evaluation.detection import (
    DetectionItem,
    evaluate_detections,
    read_detection_set,
    read_tag_set,
)
from modiste.exports import SafeWriter
from modiste.imaging import decode_image
from modiste.models.detector import Letterbox
from modiste.models.detector_head import (
    HeadConfig,
    build_head,
    decode_garments,
    ensemble,
    feature_net,
    mirror_average,
    preprocess,
    save_head,
)

if TYPE_CHECKING:
    import torch

    from modiste.config import Settings
    from modiste.models.registry import Backbone

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class DetectorTrainConfig:
    """Knobs of ``modiste train detector``; stored with the weights for provenance.

    ``head`` is the shipped head's shape and decoding (classes, input size, tuned blocks, mirror
    TTA, members); the rest says how it is trained.
    """

    head: HeadConfig = field(default_factory=lambda: HeadConfig(tune_from=14, tta=True))
    label_column: str = "label"
    holdout_fraction: float = 0.3
    # Share of the training images set aside to choose variants and decoding on (0: none). A run
    # with a validation split does not score the held-out images: they stay unseen by choices.
    val_fraction: float = 0.0
    seed: int = 0
    # seed of the first member's training (initialisation, batch order, augmentation); None:
    # ``seed``. Lets a recipe be retrained on the same split to see how much a rerun moves.
    train_seed: int | None = None
    epochs: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    feature_dropout: float = 0.1
    shift_cells: int = 0  # random translation of the cached maps, in stride-32 cells
    tune_lr: float = 2e-4  # learning rate of the tuned blocks (the head's is ``lr``)
    eval_every: int = 10
    tag_weight: float = 0.5  # image-level tag loss of unannotated photos (when tags are given)
    weak_batch: int = 16  # unannotated photos added to each batch
    paste_per_image: int = 1  # copy-paste photos per training photo (when a catalog is given)
    paste_seed: int = 0
    # a teacher's box on a tagged, unannotated photo is trained on from this score (with a teacher)
    pseudo_threshold: float = 0.3
    # size and offset also taught around each centre where its Gaussian is at least this (0: off)
    dense_regression: float = 0.0
    # weight of a GIoU loss on the box each taught cell reads (0: off; L1 on size and offset stay)
    giou_weight: float = 0.0


def split_positions(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(kept, set aside) positions of ``n`` items, sorted; the permutation's head is set aside."""
    perm = np.random.default_rng(seed).permutation(n)
    n_out = round(n * fraction)
    return sorted(int(i) for i in perm[n_out:]), sorted(int(i) for i in perm[:n_out])


def split_items(
    items: Sequence[DetectionItem], holdout_fraction: float, seed: int
) -> tuple[list[DetectionItem], list[DetectionItem]]:
    """(train, held out): a seeded split of the images sorted by path."""
    ordered = sorted(items, key=lambda it: str(it.path))
    kept, out = split_positions(len(ordered), holdout_fraction, seed)
    return [ordered[i] for i in kept], [ordered[i] for i in out]


def write_image_list(items: Sequence[DetectionItem], path: Path) -> Path:
    """An ``images.csv`` (paths relative to its own folder, all annotated) for ``eval detect``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeWriter(fh)
        w.writerow(["image_path", "annotated"])
        for it in items:
            w.writerow([os.path.relpath(it.path, base), 1])
    return path


def _flip(item: DetectionItem, width: int) -> DetectionItem:
    boxes = item.boxes.copy()
    boxes[:, [0, 2]] = width - item.boxes[:, [2, 0]]
    return DetectionItem(item.path, boxes, list(item.labels))


def extract_features(
    items: Sequence[DetectionItem],
    backbone: Backbone,
    cfg: HeadConfig,
    cache_dir: Path | None,
    progress: Progress | None = None,
    batch_size: int = 16,
    mirror: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[Letterbox]]:
    """Frozen (stride-16, stride-32) maps for each item (then each mirrored item), float16.

    Cached under ``cache_dir`` keyed by backbone weights, input size and the image list.
    """
    if not items:
        raise ConfigError("no images to train or score on (is the images CSV empty?)")
    import torch
    from PIL import Image

    key = hashlib.sha256(
        "|".join(
            [
                backbone.name,
                str(backbone.weights_sha256),
                str(cfg.input_width),
                str(cfg.input_height),
                str(mirror),
                str(cfg.tune_from),
                *(str(it.path) for it in items),
            ]
        ).encode()
    ).hexdigest()[:16]
    stems = ("f16", "f32", "lb")
    files = [cache_dir / f"detector-{key}-{s}.npy" for s in stems] if cache_dir else []
    if files and all(f.exists() for f in files):
        lbs = [
            Letterbox(float(r[0]), float(r[1]), float(r[2]), int(r[3]), int(r[4]))
            for r in np.load(files[2])
        ]
        return np.load(files[0], mmap_mode="r"), np.load(files[1], mmap_mode="r"), lbs
    net = feature_net(backbone, cfg.tune_from)
    lows, highs, lbs = [], [], []
    jobs = [(it, False) for it in items] + ([(it, True) for it in items] if mirror else [])
    for start in range(0, len(jobs), batch_size):
        ims = []
        for it, mirrored in jobs[start : start + batch_size]:
            im = decode_image(it.path).image
            ims.append(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else im)
        batch, chunk_lbs = preprocess(ims, cfg, backbone.cfg.mean, backbone.cfg.std)
        with torch.inference_mode():
            low, high = net(torch.from_numpy(batch))
        lows.append(low.half().numpy())
        # A tuned head recomputes the stride-32 map: keep an empty one (same row count).
        highs.append(high.half().numpy() if high is not None else np.zeros((len(ims), 0, 1, 1)))
        lbs.extend(chunk_lbs)
        if progress:
            progress("features", min(start + batch_size, len(jobs)), len(jobs))
    f16, f32 = np.concatenate(lows), np.concatenate(highs).astype(np.float16)
    if cache_dir:
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(files[0], f16)
        np.save(files[1], f32)
        rows = [[lb.scale, lb.pad_x, lb.pad_y, lb.width, lb.height] for lb in lbs]
        np.save(files[2], np.array(rows))
    return f16, f32, lbs


def build_targets(
    items: Sequence[DetectionItem],
    lbs: Sequence[Letterbox],
    cfg: HeadConfig,
    dense: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian centre heatmaps (N,C,H,W), log size and offset (N,C,2,H,W), regression weights
    (N,C,H,W).

    Gaussians are elliptical with sigma proportional to the box side (TTFNet's alpha 0.54), so
    large garments get wide, forgiving peaks and small accessories sharp ones. Size and offset
    are taught at each box's centre cell (weight 1) and, with ``dense`` > 0, also at the cells
    around it where the box's Gaussian is at least ``dense`` (weighted by it; the offset there
    points from the cell to the centre): a peak one cell off still gets the box right. A cell
    two boxes of a class reach is taught the one whose Gaussian is higher there.
    """
    gh, gw = cfg.grid
    n, c, s = len(items), len(cfg.classes), cfg.stride
    heat = np.zeros((n, c, gh, gw), np.float32)
    size = np.zeros((n, c, 2, gh, gw), np.float32)
    offset = np.zeros((n, c, 2, gh, gw), np.float32)
    weight = np.zeros((n, c, gh, gw), np.float32)
    ys, xs = np.mgrid[0:gh, 0:gw]
    for i, (it, lb) in enumerate(zip(items, lbs, strict=True)):
        if not len(it.boxes):
            continue
        for box, label in zip(lb.to_input(it.boxes), it.labels, strict=True):
            k = cfg.classes.index(label)
            w, h = max(box[2] - box[0], 1.0) / s, max(box[3] - box[1], 1.0) / s
            cx, cy = (box[0] + box[2]) / 2 / s, (box[1] + box[3]) / 2 / s
            ix, iy = min(int(cx), gw - 1), min(int(cy), gh - 1)
            sx, sy = max(0.54 * w / 6, 0.6), max(0.54 * h / 6, 0.6)
            g = np.exp(-((xs - ix) ** 2) / (2 * sx**2) - ((ys - iy) ** 2) / (2 * sy**2))
            if dense > 0:
                cells = (g >= dense) & (g > weight[i, k]) & (weight[i, k] < 1)
                size[i, k][:, cells] = [[np.log(w)], [np.log(h)]]
                offset[i, k][:, cells] = [(cx - xs)[cells], (cy - ys)[cells]]
                weight[i, k][cells] = g[cells]
            heat[i, k] = np.maximum(heat[i, k], g)
            size[i, k, :, iy, ix] = (np.log(w), np.log(h))
            offset[i, k, :, iy, ix] = (cx - ix, cy - iy)
            weight[i, k, iy, ix] = 1.0
    return heat, size, offset, weight


def _shift(t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate the last two dims by (dy, dx) cells, filling with zeros (no wrap-around)."""
    import torch

    out = torch.zeros_like(t)
    h, w = t.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = t[..., ys, xs]
    return out


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres.

    ``weight`` (N, C), optional, scales each image's class heatmap: 0 leaves it untaught.
    """
    import torch

    p = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    w = weight[:, :, None, None] if weight is not None else torch.ones_like(p[:, :, :1, :1])
    centre = target.eq(1).float()
    pos_loss = (torch.log(p) * (1 - p) ** 2 * centre * w).sum()
    neg_loss = (torch.log(1 - p) * p**2 * (1 - target) ** 4 * (1 - centre) * w).sum()
    return -(pos_loss + neg_loss) / (centre * w).sum().clamp(min=1)


def giou_loss(
    size: torch.Tensor,
    offset: torch.Tensor,
    size_t: torch.Tensor,
    offset_t: torch.Tensor,
    weight: torch.Tensor,
) -> torch.Tensor:
    """Weighted mean of 1 - GIoU between the boxes read at each taught cell and their targets.

    ``size`` and ``offset`` (N, C, 2, H, W) are the head's log box size and centre offset, in
    cells; a box's centre is its cell plus the offset, so the cell drops out of the overlap.
    ``weight`` (N, C, 1, H, W) is the regression weight of :func:`build_targets`; only cells
    it teaches are scored. Unlike L1 on log size and offset, this scores the box as the
    evaluation does: by overlap (torchvision's ``generalized_box_iou_loss``).
    """
    import torch
    from torchvision.ops import generalized_box_iou_loss

    taught = weight[:, :, 0] > 0

    def boxes(log_size: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        # (N, C, 2, H, W) -> (K, 4) x1, y1, x2, y2 at the taught cells
        half = log_size.clamp(-8.0, 8.0).exp() / 2
        xyxy = torch.cat([centre - half, centre + half], 2).movedim(2, -1)
        return xyxy[taught]

    per_cell = generalized_box_iou_loss(boxes(size, offset), boxes(size_t, offset_t))
    return (per_cell * weight[:, :, 0][taught]).sum() / weight.sum().clamp(min=1)


def cached_outputs(
    head: torch.nn.Module, f16: np.ndarray, f32: np.ndarray, n: int, cfg: HeadConfig
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Head outputs (heat logits, size, offset) for ``n`` cached images, in chunks of 64.

    With ``cfg.tta`` the cache holds each image then (from ``n`` on) its mirror image.
    """
    import torch

    head.eval()

    def maps(a: int, b: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        low = torch.from_numpy(np.array(f16[a:b]))  # a writable copy of the (mapped) cache
        return low, None if cfg.tune_from else torch.from_numpy(np.array(f32[a:b]))

    out = []
    with torch.inference_mode():
        for start in range(0, n, 64):
            end = min(start + 64, n)
            heat, size, offset = head(*maps(start, end))
            if cfg.tta:
                mirrored, _, _ = head(*maps(n + start, n + end))
                heat = mirror_average(heat, mirrored)
            out.append((heat, size, offset))
    return out


def decode_cached(
    outputs: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    lbs: Sequence[Letterbox],
    cfg: HeadConfig,
    min_score: float = 0.01,
) -> list[list[Garment]]:
    """Garments per image from :func:`cached_outputs` (same decode as ``CenterNetDetector``)."""
    out: list[list[Garment]] = []
    for heat, size, offset in outputs:
        chunk = lbs[len(out) : len(out) + len(heat)]
        out.extend(decode_garments(heat, size, offset, chunk, cfg, min_score))
    return out


def predict_cached(
    head: torch.nn.Module,
    f16: np.ndarray,
    f32: np.ndarray,
    lbs: Sequence[Letterbox],
    cfg: HeadConfig,
    min_score: float = 0.01,
) -> list[list[Garment]]:
    """The detector's output from cached features (``lbs``: one per image, mirrors excluded)."""
    return decode_cached(cached_outputs(head, f16, f32, len(lbs), cfg), lbs, cfg, min_score)


def train_head(
    f16: np.ndarray,
    f32: np.ndarray | None,
    targets: tuple[np.ndarray, ...],
    cfg: HeadConfig,
    tc: DetectorTrainConfig,
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    progress: Progress | None = None,
    backbone: torch.nn.Module | None = None,
    weak: tuple[np.ndarray, np.ndarray] | None = None,
    heat_weight: np.ndarray | None = None,
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Fit the head on cached features; ``evaluate`` (optional) gives mAP50 every few epochs.

    ``heat_weight`` (N, C), optional, weighs each image's class heatmap in the focal loss (0
    where a pseudo-labelled photo's tags name more garments of a class than its boxes show).

    ``weak`` holds the cached stride-16 maps of unannotated photos and their (N, C) class
    presence from image-level tags: ``tc.weak_batch`` of them join each batch, and the highest
    heatmap logit of each class is pushed towards that presence (binary cross-entropy, weight
    ``tc.tag_weight``). Tags cannot say where a garment is, but they say which classes must
    fire somewhere and, more often, which must stay silent everywhere.

    With ``cfg.tune_from`` the backbone's blocks from there on are copied from ``backbone``
    (pretrained) and fine-tuned at ``tc.tune_lr`` from the cached stride-16 maps; ``f32`` is then
    not used. Their batch norms keep the ImageNet statistics (batches of 32 street photos would
    only add noise).
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(tc.seed)
    head = build_head(cfg, backbone)
    tuned = None
    if cfg.tune_from:
        tuned = torch.nn.ModuleList([head.get_submodule("mid"), head.get_submodule("high")])
    groups: list[dict[str, Any]] = [
        {"params": list(head.get_submodule("head").parameters()), "lr": tc.lr}
    ]
    if tuned is not None:
        groups.append({"params": list(tuned.parameters()), "lr": tc.tune_lr})
    opt = torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = (len(f16) + tc.batch_size - 1) // tc.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=[g["lr"] for g in groups],
        total_steps=tc.epochs * steps_per_epoch,
        pct_start=0.1,
    )
    heat_t, size_t, off_t, mask_t = (torch.from_numpy(t) for t in targets)
    weight_t = torch.from_numpy(heat_weight) if heat_weight is not None else None
    low_all = torch.from_numpy(np.array(f16))
    high_all = None if tuned is not None or f32 is None else torch.from_numpy(np.array(f32))
    gen = torch.Generator().manual_seed(tc.seed)
    if weak is not None and (high_all is not None or not len(weak[0])):
        raise ModelError("training on tags needs a tuned stage (--tune-from) and tagged photos")
    weak_low = torch.from_numpy(np.array(weak[0])) if weak is not None else None
    weak_present = torch.from_numpy(weak[1]) if weak is not None else None
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for epoch in range(1, tc.epochs + 1):
        head.train()
        if tuned is not None:
            for mod in tuned.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.eval()
        total = 0.0
        for idx in torch.randperm(len(f16), generator=gen).split(tc.batch_size):
            tgt = [heat_t[idx], size_t[idx], off_t[idx], mask_t[idx]]
            hw = weight_t[idx] if weight_t is not None else None
            low = low_all[idx].float()
            high = None if high_all is None else high_all[idx].float()
            if weak_low is not None:
                widx = torch.randint(len(weak_low), (tc.weak_batch,), generator=gen)
                low = torch.cat([low, weak_low[widx].float()])
            if tc.shift_cells:
                # Cheap stand-in for crop augmentation: the features are cached, so move them
                # and the targets together, by whole stride-32 cells when that map is cached
                # too, else by stride-16 cells (a tuned stage recomputes f32 from the moved map).
                r = tc.shift_cells if high is not None else 2 * tc.shift_cells
                dy, dx = (int(v) for v in torch.randint(-r, r + 1, (2,), generator=gen))
                k = 2 if high is not None else 1
                if high is not None:
                    high = _shift(high, dy, dx)
                low, tgt = _shift(low, k * dy, k * dx), [_shift(t, k * dy, k * dx) for t in tgt]
            low = F.dropout2d(low, tc.feature_dropout)
            if high is not None:
                high = F.dropout2d(high, tc.feature_dropout)
            heat, size, offset = head(low, high)
            if weak_low is not None:
                weak_heat = heat[len(idx) :]
                heat, size, offset = heat[: len(idx)], size[: len(idx)], offset[: len(idx)]
            # regression weights: 1 at the centres (and, dense, the Gaussian around them)
            reg = tgt[3].unsqueeze(2)
            reg_total = reg.sum().clamp(min=1)
            loss = (
                focal_loss(heat, tgt[0], hw)
                + 0.5 * ((size - tgt[1]).abs() * reg).sum() / reg_total
                + ((offset - tgt[2]).abs() * reg).sum() / reg_total
            )
            if tc.giou_weight:
                loss = loss + tc.giou_weight * giou_loss(size, offset, tgt[1], tgt[2], reg)
            if weak_low is not None and weak_present is not None:
                top = weak_heat.flatten(2).amax(2)
                loss = loss + tc.tag_weight * F.binary_cross_entropy_with_logits(
                    top, weak_present[widx]
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "loss": total / len(f16), "seconds": time.perf_counter() - t0}
        if evaluate and (epoch % tc.eval_every == 0 or epoch == tc.epochs):
            row["map50"] = evaluate(head)
            log.info("epoch %d loss %.3f mAP50 %.3f", epoch, row["loss"], row["map50"])
        history.append(row)
        if progress:
            progress("train", epoch, tc.epochs)
    return head.eval(), history


def cache_rows(positions: Sequence[int], n: int) -> np.ndarray:
    """Cache rows of some images: each position, then its mirror image (``n`` rows later)."""
    pos = np.asarray(positions, dtype=np.int64)
    return np.concatenate([pos, pos + n])


def take_images(
    positions: Sequence[int],
    items: Sequence[DetectionItem],
    f16: np.ndarray,
    f32: np.ndarray,
    lbs: Sequence[Letterbox],
) -> tuple[list[DetectionItem], np.ndarray, np.ndarray, list[Letterbox]]:
    """Some of the cached images (mirrors cached): their items, maps and letterboxes, in the
    cache's layout (the images, then their mirrors)."""
    rows = cache_rows(positions, len(items))
    return [items[i] for i in positions], f16[rows], f32[rows], [lbs[i] for i in rows]


def decode_sweep(
    outputs: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    lbs: Sequence[Letterbox],
    items: Sequence[DetectionItem],
    cfg: HeadConfig,
    per_class: Sequence[int] = (3, 5, 10),
    nms_iou: Sequence[float] = (0.5, 0.6, 0.7),
) -> list[dict[str, float]]:
    """mAP50 of each decoding (peaks per class, NMS overlap) on one set of head outputs."""
    rows = []
    for k in per_class:
        for iou in nms_iou:
            preds = decode_cached(outputs, lbs, replace(cfg, per_class=k, nms_iou=iou))
            score = evaluate_detections(preds, items, cfg.classes)["map50"]
            rows.append({"per_class": k, "nms_iou": iou, "map50": float(score)})
    return rows


def paste_photos(
    sources: Sequence[DetectionItem],
    paste_csv: Path | None,
    tc: DetectorTrainConfig,
    cache_dir: Path | None,
) -> list[DetectionItem]:
    """Copy-paste photos made from ``sources`` (the photos trained on) and the catalog.

    Written under ``cache_dir`` (keyed by catalog, settings and sources) so that their features
    are cached like the originals'; without a cache dir, under a temporary folder kept for the
    process's life.
    """
    if paste_csv is None or tc.paste_per_image <= 0:
        return []
    import tempfile

    from modiste.training.detector_paste import PasteConfig, paste_items, paste_key, read_catalog

    products = read_catalog(paste_csv, tc.head.classes)
    cfg = PasteConfig(per_image=tc.paste_per_image, seed=tc.paste_seed)
    root = cache_dir if cache_dir is not None else Path(tempfile.mkdtemp(prefix="modiste-paste-"))
    return paste_items(sources, products, root / f"paste-{paste_key(paste_csv, sources, cfg)}", cfg)


def pseudo_label(
    teacher: Path,
    cfg: HeadConfig,
    items: Sequence[DetectionItem],
    maps: tuple[np.ndarray, np.ndarray, Sequence[Letterbox]],
    counts: np.ndarray,
    threshold: float,
) -> tuple[list[DetectionItem], np.ndarray]:
    """A teacher head's boxes on unannotated photos, kept where the photos' tags agree.

    ``maps`` are the photos' cached features (each photo, then its mirror), ``counts`` how many
    of each photo's tags name each class (:func:`read_tag_set`). A class the tags do not name
    keeps no box and is taught as absent everywhere, as in an annotated photo. A named class
    keeps its best boxes scoring ``threshold`` or more, at most as many as its tags; where fewer
    turn up, its heatmap is not taught at all on that photo (a missed garment would be taught
    as background), though the found boxes still teach size and offset.

    Returns:
        Items for the photos and then their mirrors (the cache's layout), and the (2N, C)
        heatmap weights for :func:`train_head`.
    """
    from modiste.models.detector_head import load_head

    head, tcfg = load_head(teacher)
    same = ("backbone", "input_width", "input_height", "stride", "tune_from", "tta")
    if any(getattr(tcfg, k) != getattr(cfg, k) for k in same):
        raise ConfigError(
            f"the teacher {teacher.name} must read the features this run caches "
            f"(same {', '.join(same)})"
        )
    f16, f32, lbs = maps
    preds = predict_cached(head, f16, f32, lbs[: len(items)], tcfg, threshold)
    plain, weights = [], np.ones((len(items), len(cfg.classes)), np.float32)
    for i, (item, garments) in enumerate(zip(items, preds, strict=True)):
        boxes, labels = [], []
        for c, name in enumerate(cfg.classes):
            wanted = int(counts[i, c])
            found = [g for g in garments if g.label == name][:wanted]  # best first
            boxes += [[g.box.x1, g.box.y1, g.box.x2, g.box.y2] for g in found]
            labels += [name] * len(found)
            if len(found) < wanted:
                weights[i, c] = 0.0
        plain.append(DetectionItem(item.path, np.asarray(boxes, float).reshape(-1, 4), labels))
    mirrored = [_flip(it, lb.width) for it, lb in zip(plain, lbs, strict=False)]
    return plain + mirrored, np.concatenate([weights, weights])


def train_detector(
    settings: Settings,
    images_csv: Path,
    boxes_csv: Path,
    out: Path | None,
    holdout_csv: Path | None = None,
    tc: DetectorTrainConfig | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    tags_csv: Path | None = None,
    paste_csv: Path | None = None,
    teacher: Path | None = None,
    validation_csv: Path | None = None,
) -> dict[str, Any]:
    """Split, cache features, train, score, and write the head to ``out``.

    With ``tc.val_fraction`` part of the training images is set aside and scored instead of the
    held-out images (with a sweep of decodings), so variants can be chosen without looking at
    the held-out set. ``tags_csv`` adds the unannotated photos of ``images_csv`` with their
    image-level tags (see :func:`train_head`). ``paste_csv`` (a catalog's products.csv) adds
    copies of the training photos (never the validation or held-out ones) with catalog products
    pasted on them (:mod:`modiste.training.detector_paste`); they are not mirrored. With a
    ``teacher`` head file the tagged photos are trained on as annotated ones, with the
    teacher's boxes that their tags confirm (:func:`pseudo_label`), instead of a tag loss.
    ``holdout_csv`` and ``validation_csv`` receive the held-out and validation image lists
    (for ``eval detect`` and ``benchmarks.detector_ab``).

    Returns:
        A report: ``held_out`` or ``validation`` ``map50``/``per_class`` (from cached features),
        history, sizes.
    """
    import torch

    from modiste.models.registry import create_backbone

    tc = tc or DetectorTrainConfig()
    if validation_csv is not None and tc.val_fraction <= 0:
        raise ConfigError("a validation list needs a validation split (--val-fraction)")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
    classes = tc.head.classes
    items = read_detection_set(images_csv, boxes_csv, tc.label_column, classes)
    train, held = split_items(items, tc.holdout_fraction, tc.seed)
    if holdout_csv is not None:
        write_image_list(held, holdout_csv)
    # Positions into the cached training images, so the cache is shared with full runs.
    fit, val = list(range(len(train))), list[int]()
    if tc.val_fraction > 0:
        fit, val = split_positions(len(train), tc.val_fraction, tc.seed)
    if validation_csv is not None:
        write_image_list([train[i] for i in val], validation_csv)
    pasted = paste_photos([train[i] for i in fit], paste_csv, tc, cache_dir)
    backbone = create_backbone(
        settings.backbone, pretrained=True, weights_dirs=(settings.model_dir,)
    )
    # Members train one at a time as single heads; the file holds them averaged.
    cfg = replace(tc.head, backbone=backbone.name, members=1)
    f16, f32, lbs = extract_features(train, backbone, cfg, cache_dir, progress)
    report: dict[str, Any] = {"n_held_out": len(held)}
    scored = held
    cached: tuple[np.ndarray, np.ndarray, list[Letterbox]] | None = None
    if tc.val_fraction > 0:
        scored, v16, v32, vlbs = take_images(val, train, f16, f32, lbs)
        cached = (v16, v32, vlbs[: len(val)])
        train, f16, f32, lbs = take_images(fit, train, f16, f32, lbs)
        report["n_validation"] = len(scored)
    report["n_train"] = len(train)
    mirrored = [_flip(it, lb.width) for it, lb in zip(train, lbs, strict=False)]
    if pasted:
        p16, p32, plbs = extract_features(pasted, backbone, cfg, cache_dir, progress, mirror=False)
        f16, f32 = np.concatenate([f16, p16]), np.concatenate([f32, p32])
        lbs = [*lbs, *plbs]
        report["n_pasted"] = len(pasted)
    if teacher is not None and tags_csv is None:
        raise ConfigError("pseudo-labelling with a teacher needs the photos' tags (--tags)")
    taught = list(train) + mirrored + pasted
    weak, heat_weight = None, None
    if tags_csv is not None:
        weak_paths, counts = read_tag_set(images_csv, tags_csv, classes)
        weak_items = [DetectionItem(p, np.zeros((0, 4))) for p in weak_paths]
        w16, w32, wlbs = extract_features(weak_items, backbone, cfg, cache_dir, progress)
        report["n_tagged"] = len(weak_paths)
        if teacher is None:
            present = np.minimum(counts, 1.0)
            weak = (w16, np.concatenate([present, present]))
        else:
            pseudo, pseudo_weight = pseudo_label(
                teacher, cfg, weak_items, (w16, w32, wlbs), counts, tc.pseudo_threshold
            )
            heat_weight = np.concatenate(
                [np.ones((len(taught), len(classes)), np.float32), pseudo_weight]
            )
            f16, f32 = np.concatenate([f16, w16]), np.concatenate([f32, w32])
            lbs, taught = [*lbs, *wlbs], taught + pseudo
            report["n_pseudo_boxes"] = sum(len(it.labels) for it in pseudo[: len(weak_items)])
            report["pseudo_untaught_share"] = float(1.0 - pseudo_weight.mean())
    targets = build_targets(taught, lbs, cfg, tc.dense_regression)
    evaluate = None
    if scored:
        if cached is None:
            h16, h32, hlbs = extract_features(
                scored, backbone, cfg, cache_dir, progress, mirror=cfg.tta
            )
            cached = (h16, h32, hlbs[: len(scored)])
        s16, s32, slbs = cached

        def evaluate(head: torch.nn.Module) -> float:
            preds = predict_cached(head, s16, s32, slbs, cfg)
            return float(evaluate_detections(preds, scored, cfg.classes)["map50"])

    nets: list[torch.nn.Module] = []
    history: list[dict[str, float]] = []
    n_members = tc.head.members
    for m in range(n_members):

        def member_progress(stage: str, done: int, total: int, m: int = m) -> None:
            if progress:
                progress(f"{stage} {m + 1}/{n_members}", done, total)

        net, rows = train_head(
            f16,
            f32,
            targets,
            cfg,
            replace(tc, seed=(tc.seed if tc.train_seed is None else tc.train_seed) + m),
            evaluate,
            member_progress,
            backbone=backbone.module,
            weak=weak,
            heat_weight=heat_weight,
        )
        nets.append(net)
        history.extend({**row, "member": m} for row in rows)
    head = nets[0] if n_members == 1 else ensemble(nets).eval()
    report["history"] = history
    if scored:
        outputs = cached_outputs(head, s16, s32, len(slbs), cfg)
        result = evaluate_detections(decode_cached(outputs, slbs, cfg), scored, cfg.classes)
        if tc.val_fraction > 0:
            report["validation"] = result
            report["decode_sweep"] = decode_sweep(outputs, slbs, scored, cfg)
        else:
            report["held_out"] = result
    # How the head was taught: stored in the head file and in the report, so a run can be
    # repeated from either.
    extra = {k: v for k, v in vars(tc).items() if k != "head"}
    extra.update(images_csv=images_csv.name, boxes_csv=boxes_csv.name, n_train=len(train))
    if tags_csv is not None:
        extra.update(tags_csv=tags_csv.name, n_tagged=report["n_tagged"])
    if teacher is not None:
        extra.update(teacher=teacher.name)
    if paste_csv is not None:
        extra.update(paste_csv=paste_csv.name, n_pasted=len(pasted))
    shipped = replace(cfg, members=n_members, extra=extra)
    report["options"] = {**extra, "head": {k: v for k, v in vars(shipped).items() if k != "extra"}}
    if out is not None:
        save_head(out, head, shipped)
        report["weights"] = str(out)
        report["weights_bytes"] = out.stat().st_size
    return report
