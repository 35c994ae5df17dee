"""Product type from title and photo, fine-tuned photo model: docs/decisions/text-categorizer.md.

Run: ``flock /tmp/modiste-heavy.lock .venv/bin/python -m benchmarks.text_photo_tail --cache
/tmp/modiste-cache/text-photo-ft --features /tmp/modiste-cache/text-photo --json
benchmarks/results/text_photo_tail.json`` (about 7 CPU-minutes to cache the activations once, then
about 3 minutes a fine-tuning run on one thread).

The frozen ImageNet features of ``benchmarks.text_photo`` tie the title model. Here MobileNetV2's
last two stages (``features.17`` and ``features.18``, initialised from ImageNet) and a linear head
are trained on the catalog photos of the fit side of the grouped validation split, on the
160x7x7 activations before ``features.17`` (cached once, photo and mirror; the mirror is the
augmentation). Everything is scored on the validation fifth only, the way the shipped fusion is
chosen: photo-only accuracy, each footwear/top pair, the best fusion with the title, and pair
specialists that re-decide the title's top two. The test rows are not read: a variant that does
not beat the title on validation is not a candidate.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modiste.cleaning.photo_features import DRAFT, PhotoSpec
from modiste.cleaning.photo_head import FLOOR, FUSIONS, PhotoHead, fuse_probs
from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.training.text import SplitSpec, split_indices
from modiste.training.text_photo import (
    PhotoRows,
    PhotoTraining,
    carve_validation,
    photo_features,
    read_text_photo_csv,
)

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/fashion_products/products.csv"
PAIRS = (
    ("Flats", "Heels"),
    ("Sandals", "Flip Flops"),
    ("Casual Shoes", "Sports Shoes", "Formal Shoes"),
    ("Tshirts", "Tops"),
    ("Kurtas", "Kurtis"),
)
CUT = 17  # the stages from here on are trained; the ones before run once, cached
log = logging.getLogger("text_photo_tail")


def cache_maps(rows: PhotoRows, which: np.ndarray, folder: Path | None) -> np.ndarray:
    """(len(which), 2, 160, 7, 7) float16 activations before features.17: photo, mirror.

    Cached by photo sha256 in ``folder`` so every run after the first skips the backbone.
    """
    import torch

    from modiste.imaging import decode_image
    from modiste.models.embedder import preprocess
    from modiste.models.registry import create_backbone

    bb = create_backbone("mobilenet_v2")
    path = folder / f"maps{CUT}-{(bb.weights_sha256 or 'random')[:16]}.npz" if folder else None
    have: dict[str, np.ndarray] = {}
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            have = dict(zip(z["keys"].tolist(), z["maps"], strict=True))
    todo = [i for i in which if rows.links[i] not in have]
    module: Any = bb.module
    trunk = module[:CUT].eval()
    for start in range(0, len(todo), 32):
        part = todo[start : start + 32]
        images = [decode_image(rows.photos[i], draft_size=DRAFT).image for i in part]  # type: ignore[arg-type]
        x = torch.from_numpy(preprocess(images, bb.cfg))
        with torch.inference_mode():
            a, b = trunk(x), trunk(torch.flip(x, dims=[3]))
        for k, i in enumerate(part):
            have[str(rows.links[i])] = np.stack([a[k].numpy(), b[k].numpy()]).astype(np.float16)
    if todo and path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(have)
        np.savez(path, keys=np.array(keys), maps=np.stack([have[k] for k in keys]))
    return np.stack([have[str(rows.links[i])] for i in which])


def _on_classes(p: np.ndarray, own: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Photo probabilities over the title model's classes, floored as PhotoHead floors them."""
    index = {c: i for i, c in enumerate(classes)}
    q = np.full((len(p), len(classes)), FLOOR / len(classes))
    for j, c in enumerate(own):
        if c in index:
            q[:, index[c]] += p[:, j] * (1.0 - FLOOR)
    return np.asarray(q / q.sum(axis=1, keepdims=True))


def score_photo(
    q: np.ndarray, p_title: np.ndarray, classes: Sequence[str], y: np.ndarray, grid: PhotoTraining
) -> dict[str, Any]:
    """Photo-only and per-pair accuracy, and the best fusion with the title (as training picks)."""
    names = np.array(classes)
    out: dict[str, Any] = {"photo_accuracy": float((names[q.argmax(1)] == y).mean())}
    best: tuple[float, str, float] = (-1.0, "", 0.0)
    for fusion in FUSIONS:
        for w in grid.log_weights if fusion == "log" else grid.linear_weights:
            acc = float((names[fuse_probs(p_title, q, fusion, w).argmax(1)] == y).mean())
            if acc > best[0]:
                best = (acc, fusion, w)
    out.update({"fused_accuracy": best[0], "fusion": best[1], "weight": best[2]})
    for pair in PAIRS:
        m = np.isin(y, pair)
        if not m.any() or not set(pair) <= set(classes):
            continue
        cols = [list(classes).index(c) for c in pair]
        got = np.array(pair)[q[m][:, cols].argmax(1)]
        out["/".join(pair)] = {"n": int(m.sum()), "accuracy": float((got == y[m]).mean())}
    return out


def fine_tune(
    x_fit: np.ndarray,
    y_fit: Sequence[str],
    x_val: np.ndarray,
    judge: Any,
    epochs: int,
    seed: int = 0,
    lr: float = 3e-4,
    head_lr: float = 3e-3,
    weight_decay: float = 0.05,
    smoothing: float = 0.1,
    train_bn: bool = False,
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Train features.17-18 + a linear head: (per-epoch table, fit and validation features of
    the best epoch).

    BatchNorm keeps ImageNet's statistics unless ``train_bn`` (a few thousand photos in batches
    of 32 may only add noise to them); each sample is the photo or its mirror at random; the
    epoch with the best fused validation accuracy (ties: the later, better-fitted one) is kept.
    """
    import torch

    from modiste.models.registry import create_backbone

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    own = sorted(set(y_fit))
    yt = torch.tensor([own.index(v) for v in y_fit])
    bb = create_backbone("mobilenet_v2")
    module: Any = bb.module
    tail = torch.nn.Sequential(module[CUT], module[CUT + 1])
    head = torch.nn.Linear(1280, len(own))
    groups = [{"params": tail.parameters(), "lr": lr}, {"params": head.parameters(), "lr": head_lr}]
    opt = torch.optim.AdamW(groups, weight_decay=weight_decay)
    steps = epochs * -(-len(yt) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [lr, head_lr], total_steps=steps)
    xf = torch.from_numpy(x_fit.astype(np.float32))
    xv = torch.from_numpy(x_val.astype(np.float32))

    def pooled(x: Any) -> Any:
        return tail(x).mean(dim=(2, 3))

    def features(x: Any) -> np.ndarray:
        tail.eval()
        with torch.inference_mode():
            return np.concatenate(
                [
                    (0.5 * (pooled(x[s : s + 128, 0]) + pooled(x[s : s + 128, 1]))).numpy()
                    for s in range(0, len(x), 128)
                ]
            )

    table: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    t0 = time.time()
    for epoch in range(epochs):
        tail.train()
        for m in tail.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and not train_bn:
                m.eval()
        order = torch.from_numpy(rng.permutation(len(yt)))
        for s in range(0, len(yt), 32):
            b = order[s : s + 32]
            x = xf[b, torch.from_numpy(rng.integers(0, 2, len(b)))]
            f = torch.nn.functional.dropout(pooled(x), 0.2, True)
            loss = torch.nn.functional.cross_entropy(head(f), yt[b], label_smoothing=smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        p = _proba(head, features(xv))
        row = {"epoch": epoch + 1, "seconds": round(time.time() - t0, 1), **judge(p, own)}
        table.append(row)
        log.info("epoch %d: %s", epoch + 1, {k: row[k] for k in list(row)[:6]})
        if row["fused_accuracy"] >= best[0]:
            state = {k: v.clone() for k, v in tail.state_dict().items()}
            best = (row["fused_accuracy"], {"tail": state, "head": copy.deepcopy(head)})
    tail.load_state_dict(best[1]["tail"])
    return table, features(xf), features(xv)


def _proba(head: Any, f: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.asarray(torch.softmax(head(torch.from_numpy(f)), 1).numpy())


def _standardise(fit: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalise, then scale by the fit side's statistics (as PhotoHead does)."""
    fit = fit / np.maximum(np.linalg.norm(fit, axis=1, keepdims=True), 1e-12)
    val = val / np.maximum(np.linalg.norm(val, axis=1, keepdims=True), 1e-12)
    mean, scale = fit.mean(axis=0), fit.std(axis=0) + 1e-6
    return (fit - mean) / scale, (val - mean) / scale


def pair_specialists(
    f_fit: np.ndarray,
    y_fit: np.ndarray,
    f_val: np.ndarray,
    y_val: np.ndarray,
    p_title: np.ndarray,
    classes: Sequence[str],
) -> list[dict[str, Any]]:
    """Per pair: a logistic head on that pair's photos only, re-deciding the title's top two.

    Only rows whose title top two both lie in the pair change; the title's probabilities and the
    specialist's are combined as a product of experts with weight ``w``.
    """
    from sklearn.linear_model import LogisticRegression

    zf, zv = _standardise(f_fit, f_val)
    names = np.array(classes)
    title = names[p_title.argmax(1)]
    top2 = np.argsort(-p_title, axis=1)[:, :2]
    out: list[dict[str, Any]] = []
    for pair in PAIRS:
        m = np.isin(y_fit, pair)
        if len(set(y_fit[m])) < 2:
            continue
        sel = np.flatnonzero([set(names[t]) <= set(pair) for t in top2])
        for c in (0.01, 0.1):
            lr = LogisticRegression(C=c, max_iter=3000).fit(zf[m], y_fit[m])
            own = list(lr.classes_)
            vm = np.isin(y_val, pair)
            row: dict[str, Any] = {
                "pair": "/".join(pair),
                "c": c,
                "n_val": int(vm.sum()),
                "pair_accuracy": float((lr.predict(zv[vm]) == y_val[vm]).mean()),
                "rows_redecided": len(sel),
                "errors_title": int((title != y_val).sum()),
            }
            pb = lr.predict_proba(zv[sel]) if len(sel) else np.zeros((0, len(own)))
            for w in (0.3, 0.5, 1.0, 2.0):
                new = title.copy()
                for k, r in enumerate(sel):
                    cand = [str(x) for x in names[top2[r]] if str(x) in own]
                    score = [
                        np.log(p_title[r, list(classes).index(x)] + 1e-12)
                        + w * np.log(pb[k, own.index(x)] + 1e-12)
                        for x in cand
                    ]
                    if cand:
                        new[r] = cand[int(np.argmax(score))]
                row[f"errors_w{w:g}"] = int((new != y_val).sum())
            out.append(row)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=None, help="Activation cache folder.")
    ap.add_argument("--features", type=Path, default=None, help="Frozen feature cache folder.")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=3e-4, help="Tail learning rate (head: 10x).")
    ap.add_argument("--train-bn", action="store_true", help="Update BatchNorm statistics too.")
    ap.add_argument("--keep-weights", type=float, default=0.03)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(1)  # leave the other core to whoever shares the machine
    t0 = time.time()
    rows = read_text_photo_csv(args.data, "productDisplayName", "articleType", "image_path")
    grid = PhotoTraining()
    split = SplitSpec(0, 0.2, grouped=True)
    tr, _ = split_indices(rows.texts, rows.labels, split, rows.links)
    sub, val = carve_validation(rows, tr, split, grid)
    sub, val = tr[sub], tr[val]
    frozen = photo_features(rows, np.concatenate([sub, val]), PhotoSpec(), None, args.features)
    has = np.zeros(len(rows.texts), dtype=bool)
    has[np.concatenate([sub, val])[np.isfinite(frozen).all(axis=1)]] = True
    fit, vp = sub[has[sub]], val[has[val]]
    labels = np.array(rows.labels)
    cfg = CategorizerConfig(keep_weights=args.keep_weights)
    title = TextCategorizer(cfg).fit([rows.texts[i] for i in sub], list(labels[sub]))
    p_val = title.predict_proba([rows.texts[i] for i in vp])
    classes, y = title.classes, labels[vp]
    result: dict[str, Any] = {
        "data": args.data.name,
        "split": {"seed": 0, "test_size": 0.2, "grouped": True},
        "n_fit_photos": len(fit),
        "n_validation_photos": len(vp),
        "recipe": {"epochs": args.epochs, "lr": args.lr, "train_bn": args.train_bn},
        "validation_title_only": float((np.array(classes)[p_val.argmax(1)] == y).mean()),
    }

    def judge(p: np.ndarray, own: Sequence[str]) -> dict[str, Any]:
        return score_photo(_on_classes(p, own, classes), p_val, classes, y, grid)

    pos = {int(i): k for k, i in enumerate(np.concatenate([sub, val]))}
    ff, fv = frozen[[pos[i] for i in fit]], frozen[[pos[i] for i in vp]]
    result["frozen_heads"] = []
    for c in grid.c_grid:
        head = PhotoHead.fit(ff, list(labels[fit]), c, grid.spec)
        row = {"c": c, **judge(head.proba(fv), head.classes)}
        result["frozen_heads"].append(row)
        log.info("frozen C=%g: %s", c, {k: row[k] for k in list(row)[:5]})
    result["frozen_pair_specialists"] = pair_specialists(ff, labels[fit], fv, y, p_val, classes)
    maps = cache_maps(rows, np.concatenate([fit, vp]), args.cache)
    result["seconds_to_activations"] = round(time.time() - t0, 1)
    table, t_fit, t_val = fine_tune(
        maps[: len(fit)],
        list(labels[fit]),
        maps[len(fit) :],
        judge,
        args.epochs,
        args.seed,
        lr=args.lr,
        head_lr=10 * args.lr,
        train_bn=args.train_bn,
    )
    result["fine_tuned_epochs"] = table
    result["fine_tuned_pair_specialists"] = pair_specialists(
        t_fit, labels[fit], t_val, y, p_val, classes
    )
    result["seconds"] = round(time.time() - t0, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
