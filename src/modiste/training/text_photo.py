"""Train and score the title + photo categorizer (`modiste train/eval text --image-column`).

The photo head and its fusion with the title model are chosen on a validation split carved from
the training side, always grouped (rows sharing a normalised title or the same photo bytes stay
together), so the chosen weights hold for products the models have not seen; the test side is
scored once, by ``eval``. Rows without a photo, or with one that cannot be read (reported, not
fatal), are categorized from their title alone.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.cleaning.photo_features import FeatureCache, PhotoSpec, embed_photos, photo_embedder
from modiste.cleaning.photo_head import FUSIONS, PhotoHead, fuse_probs
from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.errors import ConfigError, FeedError
from modiste.training.text import SplitSpec, read_text_csv, split_indices

if TYPE_CHECKING:
    from modiste.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoTraining:
    """What the validation split chooses among (every value recorded in the model's info)."""

    spec: PhotoSpec = field(default_factory=PhotoSpec)
    c_grid: tuple[float, ...] = (0.03, 0.1, 0.3)
    log_weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5)
    linear_weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    validation_share: float = 0.2


@dataclass
class PhotoRows:
    """A CSV's texts and labels with each row's photo path (None: no photo) and byte hash."""

    texts: list[str]
    labels: list[str]
    photos: list[Path | None]
    links: list[str | None]  # sha256 of the photo bytes; None when missing or unreadable
    errors: dict[int, str] = field(default_factory=dict)  # row -> why its photo is unusable


def read_text_photo_csv(
    path: Path,
    text_column: str,
    label_column: str,
    image_column: str,
    extra_columns: Sequence[str] = (),
) -> PhotoRows:
    """Rows as :func:`read_text_csv` keeps them, plus photos (paths relative to the CSV)."""
    texts, labels = read_text_csv(path, text_column, label_column, extra_columns)
    base = Path(path).parent
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if image_column not in (reader.fieldnames or []):
            raise FeedError(f"{path}: no column {image_column!r}")
        raw = [
            (r[image_column] or "").strip()
            for r in reader
            if (r[text_column] or "").strip() and (r[label_column] or "").strip()
        ]
    photos = [base / v if v else None for v in raw]  # an absolute value stays absolute
    rows = PhotoRows(texts, labels, photos, [None] * len(photos))
    for i, p in enumerate(photos):
        if p is None:
            continue
        try:
            rows.links[i] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError as e:
            rows.errors[i] = f"cannot read photo {p.name}: {e.strerror or e}"
    return rows


def photo_features(
    rows: PhotoRows,
    which: Sequence[int] | np.ndarray,
    spec: PhotoSpec,
    settings: Settings | None,
    cache_dir: Path | None,
) -> np.ndarray:
    """Features of rows ``which`` (NaN rows: no usable photo); decode failures join rows.errors."""
    embedder = photo_embedder(spec, settings)
    cache = FeatureCache(cache_dir, embedder.key) if cache_dir is not None else None
    sources = [None if i in rows.errors else rows.photos[i] for i in which]
    feats, errors = embed_photos(sources, embedder, cache)
    for j, reason in errors:
        rows.errors[int(which[j])] = reason
    for i in which:
        if i in rows.errors:
            log.warning("%r: photo skipped, title used: %s", rows.texts[i], rows.errors[i])
    return feats


def _nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))


def choose_fusion(
    p_text: np.ndarray,
    heads: Sequence[PhotoHead],
    feats: np.ndarray,
    labels: Sequence[str],
    classes: Sequence[str],
    grid: PhotoTraining,
) -> tuple[PhotoHead, list[dict[str, Any]]]:
    """The head, fusion and weight with the best validation accuracy (ties: lower log loss)."""
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(lab, -1) for lab in labels])
    known = y >= 0  # a validation label the title model never saw cannot be scored
    p_text, feats, y = p_text[known], feats[known], y[known]
    table: list[dict[str, Any]] = [
        {"variant": "title only", "accuracy": float((p_text.argmax(1) == y).mean())}
    ]
    best: tuple[float, float, PhotoHead, str, float] | None = None
    for head in heads:
        q = head.on_classes(feats, classes)
        table.append(
            {
                "variant": "photo only",
                "c": head.info["c"],
                "accuracy": float((q.argmax(1) == y).mean()),
            }
        )
        for fusion in FUSIONS:
            weights = grid.log_weights if fusion == "log" else grid.linear_weights
            for w in weights:
                p = fuse_probs(p_text, q, fusion, w)
                acc, nll = float((p.argmax(1) == y).mean()), _nll(p, y)
                row = {"variant": fusion, "c": head.info["c"], "weight": w, "accuracy": acc}
                table.append({**row, "log_loss": nll})
                if best is None or (acc, -nll) > (best[0], -best[1]):
                    best = (acc, nll, head, fusion, w)
    if best is None:
        raise ConfigError("no photo head to choose from")
    head = best[2]
    head.fusion, head.weight = best[3], best[4]
    return head, table


def train_text_photo_model(
    data: Path,
    text_column: str,
    label_column: str,
    image_column: str,
    out: Path,
    config: CategorizerConfig | None = None,
    split: SplitSpec | None = None,
    extra_columns: Sequence[str] = (),
    settings: Settings | None = None,
    cache_dir: Path | None = None,
    grid: PhotoTraining | None = None,
) -> tuple[TextCategorizer, dict[int, str]]:
    """Fit title model + photo head on the training side; (model, {row: unusable photo})."""
    split, grid = split or SplitSpec(), grid or PhotoTraining()
    rows = read_text_photo_csv(data, text_column, label_column, image_column, extra_columns)
    tr, te = split_indices(rows.texts, rows.labels, split, rows.links)
    feats = photo_features(rows, tr, grid.spec, settings, cache_dir)
    has = np.isfinite(feats).all(axis=1)
    if len(Counter(rows.labels[i] for i in tr[has])) < 2:
        raise ConfigError(f"{data}: the training side needs photos of at least two classes")
    sub, val = carve_validation(rows, tr, split, grid)
    vsub, vval = sub[has[sub]], val[has[val]]
    if not len(vval) or len({rows.labels[tr[i]] for i in vsub}) < 2:
        raise ConfigError(f"{data}: too few photos to carve a validation split from training")
    title_v = TextCategorizer(config).fit(
        [rows.texts[tr[i]] for i in sub], [rows.labels[tr[i]] for i in sub]
    )
    p_val = title_v.predict_proba([rows.texts[tr[i]] for i in vval])
    sub_labels = [rows.labels[tr[i]] for i in vsub]
    heads = [PhotoHead.fit(feats[vsub], sub_labels, c, grid.spec) for c in grid.c_grid]
    val_labels = [rows.labels[tr[i]] for i in vval]
    chosen, table = choose_fusion(p_val, heads, feats[vval], val_labels, title_v.classes, grid)
    log.info("photo fusion chosen on %d validation photos: %s", len(vval), chosen.meta())
    # Refit both on the whole training side with the chosen settings.
    model = TextCategorizer(config).fit([rows.texts[i] for i in tr], [rows.labels[i] for i in tr])
    head = PhotoHead.fit(feats[has], [rows.labels[i] for i in tr[has]], chosen.info["c"], grid.spec)
    head.fusion, head.weight = chosen.fusion, chosen.weight
    head.info.update({"n_validation": len(vval), "validation": table, "grid": asdict(grid)})
    model.photo = head
    model.info.update(
        {
            "data": Path(data).name,
            "text_column": text_column,
            "label_column": label_column,
            "image_column": image_column,
            "extra_columns": list(extra_columns),
            "split": asdict(split),
            "n_test_held_out": len(te),
            "n_train_photos": int(has.sum()),
        }
    )
    model.save(out)
    return model, {i: rows.errors[i] for i in tr if i in rows.errors}


def carve_validation(
    rows: PhotoRows, train: np.ndarray, split: SplitSpec, grid: PhotoTraining
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) positions within ``train``, grouped by title and photo bytes."""
    vspec = SplitSpec(split.seed, grid.validation_share, grouped=True)
    return split_indices(
        [rows.texts[i] for i in train],
        [rows.labels[i] for i in train],
        vspec,
        [rows.links[i] for i in train],
    )


def moved_errors(
    labels: Sequence[str], before: Sequence[str], after: Sequence[str], k: int = 15
) -> dict[str, Any]:
    """Which (true, predicted) mistakes the photo fixed and which it made."""
    fixed: Counter[tuple[str, str]] = Counter()
    broken: Counter[tuple[str, str]] = Counter()
    for t, b, a in zip(labels, before, after, strict=True):
        if b != t and a == t:
            fixed[(t, b)] += 1
        elif b == t and a != t:
            broken[(t, a)] += 1

    def top(c: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
        ranked = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [{"true": t, "predicted": p, "count": n} for (t, p), n in ranked]

    return {
        "n_fixed": sum(fixed.values()),
        "n_broken": sum(broken.values()),
        "fixed": top(fixed),
        "broken": top(broken),
    }


def photo_row_report(
    model: TextCategorizer, texts: Sequence[str], labels: Sequence[str], feats: np.ndarray
) -> dict[str, Any]:
    """On the rows that have a usable photo: title only vs title + photo, and what moved."""
    has = np.flatnonzero(np.isfinite(feats).all(axis=1)).tolist()
    t = [texts[i] for i in has]
    y = [labels[i] for i in has]
    if not len(has):
        return {"n": 0}
    before = [p for p, _ in model.predict(t)]
    after = [p for p, _ in model.predict(t, feats[has])]
    acc_b = float(np.mean([a == b for a, b in zip(y, before, strict=True)]))
    acc_a = float(np.mean([a == b for a, b in zip(y, after, strict=True)]))
    return {
        "n": len(has),
        "title_only_accuracy": acc_b,
        "accuracy": acc_a,
        "moved": moved_errors(y, before, after),
    }
