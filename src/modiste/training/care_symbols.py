"""Train the care-pictogram classifier on rendered labels only (``modiste train care-symbols``).

Training crops come out of the same locator that reads real photos: each rendered label
(:func:`modiste.training.synth.care_symbols.render_row`) goes through
:func:`modiste.cleaning.care_symbols.locate`; a candidate overlapping a drawn symbol (IoU >= 0.5)
is that symbol, one overlapping none (IoU < 0.2) is ``none`` (letters, digits, noise), anything
between is left out. So the classifier learns the crops, merges and misses the locator really
makes. No real photo is used (the real labels at hand are evaluation-only, GPL).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modiste.cleaning import care_symbols as cs

log = logging.getLogger(__name__)


@dataclass
class CropSet:
    """Feature rows and their class names, plus how many drawn symbols the locator missed."""

    x: np.ndarray
    y: list[str]
    drawn: int
    missed: int


def render_crops(n_labels: int, seed: int, none_per_label: int = 5) -> CropSet:
    """Locate and featurise ``n_labels`` rendered labels; keep a few ``none`` crops per label."""
    from modiste.training.synth.care_symbols import render_row

    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[str] = []
    drawn = missed = 0
    for _ in range(n_labels):
        row = render_row(rng)
        gray, f = cs.to_gray(row.image)
        truth = [(name, tuple(v * f for v in b)) for name, b in row.symbols]
        boxes = cs.locate(gray)
        keep: list[tuple[cs.Box, str]] = []
        negatives: list[cs.Box] = []
        found = set()
        for b in boxes:
            ious = [cs._iou(b, t) for _, t in truth]  # type: ignore[arg-type]
            k = int(np.argmax(ious)) if ious else -1
            if k >= 0 and ious[k] >= 0.5:
                keep.append((b, truth[k][0]))
                found.add(k)
            elif not ious or ious[k] < 0.2:
                negatives.append(b)
        drawn += len(truth)
        missed += len(truth) - len(found)
        if negatives:  # mostly text and marks on the label itself, a few from the background
            centres = np.array([((t[0] + t[2]) / 2, (t[1] + t[3]) / 2) for _, t in truth])
            dist = [
                float(np.min(np.hypot(*(centres - ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)).T)))
                for b in negatives
            ]
            near = [int(i) for i in np.argsort(dist)[: 3 * none_per_label]]
            pick = set(rng.choice(near, min(len(near), none_per_label), replace=False).tolist())
            pick |= set(rng.choice(len(negatives), min(len(negatives), 2), replace=False).tolist())
            keep += [(negatives[int(i)], "none") for i in sorted(pick)]
        if keep:
            xs.append(cs.features(gray, [b for b, _ in keep]))
            ys += [name for _, name in keep]
    x = np.concatenate(xs) if xs else np.zeros((0, cs.feature_size()), np.float32)
    return CropSet(x.astype(np.float32), ys, drawn, missed)


def fit(data: CropSet, hidden: int = 128, seed: int = 0) -> cs.SymbolModel:
    """A one-hidden-layer MLP (scikit-learn, early stopping) exported as NumPy weights."""
    from sklearn.neural_network import MLPClassifier

    mean = data.x.mean(axis=0)
    std = data.x.std(axis=0) + 1e-3
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=1e-3,
        max_iter=200,
        early_stopping=len(data.y) >= 1000,  # the split needs a few crops of every class
        validation_fraction=0.1,
        random_state=seed,
    )
    clf.fit((data.x - mean) / std, data.y)
    classes = [str(c) for c in clf.classes_]
    return cs.SymbolModel(
        classes=classes,
        mean=mean,
        std=std,
        w1=clf.coefs_[0].astype(np.float32),
        b1=clf.intercepts_[0].astype(np.float32),
        w2=clf.coefs_[1].astype(np.float32),
        b2=clf.intercepts_[1].astype(np.float32),
        meta={"hidden": hidden, "seed": seed, "n_crops": len(data.y)},
    )


def accuracy(model: cs.SymbolModel, data: CropSet) -> dict[str, float]:
    """Crop accuracy on a rendered set, overall and on symbol crops only."""
    pred = np.array(model.classes)[model.predict_proba(data.x).argmax(axis=1)]
    truth = np.array(data.y)
    sym = truth != "none"
    return {
        "crop_accuracy": round(float((pred == truth).mean()), 4),
        "symbol_crop_accuracy": round(float((pred[sym] == truth[sym]).mean()), 4),
        "none_kept_out": round(float((pred[~sym] == "none").mean()), 4),
        "located": round(1 - data.missed / max(1, data.drawn), 4),
    }


def train_care_symbols(
    out: Path, n_labels: int = 2500, seed: int = 0, hidden: int = 128, n_test: int = 400
) -> dict[str, object]:
    """Render, fit and save the model; a held-out rendered set (another seed) is scored."""
    t0 = time.perf_counter()
    train = render_crops(n_labels, seed)
    log.info("rendered %d crops in %.0f s", len(train.y), time.perf_counter() - t0)
    model = fit(train, hidden=hidden, seed=seed)
    test = render_crops(min(n_test, max(5, n_labels // 6)), seed + 10_000)
    report: dict[str, object] = {
        "n_labels": n_labels,
        "n_crops": len(train.y),
        "seed": seed,
        "hidden": hidden,
        "rendered_test": accuracy(model, test),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model.meta = {**model.meta, "command": "modiste train care-symbols", **report}
    model.save(out)
    return report
