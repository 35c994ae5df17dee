"""Train and evaluate text categorizers from a CSV (`modiste train text`, `modiste eval text`).

The split is part of the result: deterministic (seed + test share), stratified by label, and
written into the model and the report, so `eval` scores exactly the rows `train` never saw.
Catalogues repeat titles (one product in several colours or sizes), so ``grouped=True`` keeps every
copy of a title on one side; the plain split is the realistic one for a live catalogue (new rows
often repeat old titles), the grouped one says how the model does on titles it has never seen.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.cleaning.text_features import normalize_text
from modiste.errors import ConfigError, FeedError

if TYPE_CHECKING:
    from modiste.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitSpec:
    """A reproducible train/test split; ``test_size`` 0 means train on everything."""

    seed: int = 0
    test_size: float = 0.2
    grouped: bool = False


def read_text_csv(
    path: Path, text_column: str, label_column: str, extra_columns: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV; rows with an empty text or label are skipped.

    ``extra_columns`` (an explicit option, e.g. ``usage``) are appended to the text as
    ``column=value`` words, for users whose feeds carry them; never pass the label column itself.
    """
    if label_column in extra_columns:
        raise FeedError(f"{label_column!r} is the label; it cannot also be an input column")
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            for col in (text_column, label_column, *extra_columns):
                if col not in cols:
                    raise FeedError(f"{path}: no column {col!r} (columns: {', '.join(cols)})")
            rows = [(_text(r, text_column, extra_columns), r[label_column] or "") for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FeedError(f"cannot read {path}: {e}") from e
    kept = [(t.strip(), lab.strip()) for t, lab in rows if t.strip() and lab.strip()]
    if len(kept) < len(rows):
        log.info("%s: skipped %d rows with an empty text or label", path, len(rows) - len(kept))
    return [t for t, _ in kept], [lab for _, lab in kept]


def _text(row: dict[str, str], column: str, extra: Sequence[str]) -> str:
    text = row[column] or ""
    if not text.strip():
        return ""
    tags = [f"{c.lower()}={(row[c] or '').strip().lower().replace(' ', '_')}" for c in extra]
    return " ".join([text, *tags])


def split_indices(
    texts: Sequence[str],
    labels: Sequence[str],
    spec: SplitSpec,
    links: Sequence[str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows), stratified by label; grouped by normalised title if asked.

    Each label's groups (single rows, or all rows sharing a title) are shuffled with the seed and
    the     first ``test_size`` share goes to test; labels with one group stay in training.
    ``links`` (grouped only; e.g. each row's photo sha256) also joins rows sharing a value, so
    that a photo copied under another title does not sit on both sides.
    """
    n = len(texts)
    if spec.test_size <= 0:
        return np.arange(n), np.zeros(0, dtype=int)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        groups[normalize_text(t) if spec.grouped else str(i)].append(i)
    if spec.grouped and links is not None:
        groups = _join_linked(groups, links)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, rows in groups.items():
        by_label[Counter(labels[i] for i in rows).most_common(1)[0][0]].append(key)
    rng = np.random.default_rng(spec.seed)
    test: list[int] = []
    for label in sorted(by_label):
        keys = sorted(by_label[label])
        if len(keys) < 2:
            continue
        order = rng.permutation(len(keys))
        k = max(1, round(len(keys) * spec.test_size))
        for j in order[:k]:
            test.extend(groups[keys[j]])
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _join_linked(groups: dict[str, list[int]], links: Sequence[str | None]) -> dict[str, list[int]]:
    """Union-find of title groups that share a link; a joined group is keyed by its first title."""
    parent = {key: key for key in groups}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first: dict[str, str] = {}
    for key in sorted(groups):
        for i in groups[key]:
            link = links[i]
            if link is None:
                continue
            other = first.setdefault(link, key)
            a, b = sorted((root(key), root(other)))
            parent[b] = a
    joined: dict[str, list[int]] = defaultdict(list)
    for key in sorted(groups):
        joined[root(key)].extend(groups[key])
    return joined


def train_text_model(
    data: Path,
    text_column: str,
    label_column: str,
    out: Path,
    config: CategorizerConfig | None = None,
    split: SplitSpec | None = None,
    extra_columns: Sequence[str] = (),
) -> TextCategorizer:
    """Fit on the training side of ``split`` and save to ``out`` (with the split recorded)."""
    split = split or SplitSpec()
    texts, labels = read_text_csv(data, text_column, label_column, extra_columns)
    tr, te = split_indices(texts, labels, split)
    model = TextCategorizer(config).fit([texts[i] for i in tr], [labels[i] for i in tr])
    model.info.update(
        {
            "data": Path(data).name,
            "text_column": text_column,
            "label_column": label_column,
            "extra_columns": list(extra_columns),
            "split": asdict(split),
            "n_test_held_out": len(te),
        }
    )
    model.save(out)
    return model


def top_confusions(
    texts: Sequence[str],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    k: int = 15,
    examples: int = 3,
) -> list[dict[str, Any]]:
    """The k most frequent (true, predicted) mistakes with a few example texts each."""
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for t, a, b in zip(texts, y_true, y_pred, strict=True):
        if a != b:
            pairs[(a, b)].append(t)
    ranked = sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:k]
    return [
        {"true": a, "predicted": b, "count": len(v), "examples": v[:examples]}
        for (a, b), v in ranked
    ]


def evaluate_text_model(
    model: TextCategorizer,
    texts: Sequence[str],
    labels: Sequence[str],
    png: Path | None = None,
    photos: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, macro F1, per-class scores, top confusions, confidence coverage.

    ``photos``: feature rows (NaN: no photo) for a model with a photo head.
    """
    from modiste.evaluation.metrics import accuracy, confusion, macro_f1, per_class

    preds = model.predict(texts, photos)
    y_pred = [p for p, _ in preds]
    conf = np.array([c for _, c in preds])
    correct = np.array([a == b for a, b in zip(labels, y_pred, strict=True)])
    coverage = {}
    for thr in (0.5, 0.8, 0.9):
        sel = conf >= thr
        coverage[str(thr)] = {
            "share": float(sel.mean()) if len(sel) else 0.0,
            "accuracy": float(correct[sel].mean()) if sel.any() else 0.0,
        }
    unseen = sorted(set(labels) - set(model.classes))
    report: dict[str, Any] = {
        "accuracy": accuracy(labels, y_pred),
        "macro_f1": macro_f1(labels, y_pred),
        "n": len(labels),
        "n_classes": len(set(labels)),
        "labels_unknown_to_model": unseen,
        "confidence_coverage": coverage,
        "top_confusions": top_confusions(texts, labels, y_pred),
        "per_class": per_class(labels, y_pred),
    }
    if png is not None and report["top_confusions"]:
        from modiste.evaluation.report import plot_confusion

        involved: list[str] = []
        for c in report["top_confusions"]:
            for lab in (c["true"], c["predicted"]):
                if lab not in involved:
                    involved.append(lab)
        involved = involved[:16]
        keep = [i for i, a in enumerate(labels) if a in involved]
        labs, m = confusion([labels[i] for i in keep], [y_pred[i] for i in keep], involved)
        plot_confusion(labs, m.tolist(), png, title="Most confused classes (rows: true)")
        report["confusion_png"] = str(png)
    return report


def evaluate_text_csv(
    model_dir: Path,
    data: Path,
    text_column: str,
    label_column: str,
    split: SplitSpec | None = None,
    png: Path | None = None,
    image_column: str | None = None,
    settings: Settings | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Score the test side of ``split`` (default: the model's stored split; test_size 0: all).

    With ``image_column`` the photos join in (a model with a photo head) and the report adds
    ``photo_rows``: title only vs title + photo on the rows with a usable photo.
    """
    model = TextCategorizer.load(model_dir)
    trained = SplitSpec(**model.info["split"]) if "split" in model.info else None
    if split is None:
        split = trained or SplitSpec(test_size=0.0)
    if split != trained:
        log.warning(
            "scoring a split other than the model's training split: test rows may "
            "have been trained on (scores can be optimistic)"
        )
    extra = model.info.get("extra_columns", [])
    # A grouped split of a photo model also kept copies of a photo together: rebuild it so
    # (a title-only model's grouped split joined titles only, photos or not).
    link_column = model.info.get("image_column") if split.grouped else None
    rows = None
    if image_column or link_column:
        from modiste.training.text_photo import read_text_photo_csv

        column = str(image_column or link_column)
        rows = read_text_photo_csv(data, text_column, label_column, column, extra)
        texts, labels = rows.texts, rows.labels
    else:
        texts, labels = read_text_csv(data, text_column, label_column, extra)
    _, te = split_indices(texts, labels, split, rows.links if rows and link_column else None)
    if split.test_size <= 0:
        te = np.arange(len(texts))
    if not len(te):
        raise ConfigError(f"{data}: no rows to score (the file or its held-out side is empty)")
    t_te, y_te = [texts[i] for i in te], [labels[i] for i in te]
    feats: np.ndarray | None = None
    photo_part: dict[str, Any] = {}
    if image_column and rows is not None:
        feats, photo_part = _photo_part(model, rows, te, settings, cache_dir)
    report = evaluate_text_model(model, t_te, y_te, png, feats)
    report = {
        "model": str(model_dir),
        "data": str(data),
        "text_column": text_column,
        "label_column": label_column,
        "split": asdict(split),
        "split_is_training_holdout": split == trained and split.test_size > 0,
        **report,
        **photo_part,
    }
    return report


def _photo_part(
    model: TextCategorizer,
    rows: Any,
    te: np.ndarray,
    settings: Settings | None,
    cache_dir: Path | None,
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Test rows' photo features and the report's photo section (title only vs with photo)."""
    from modiste.training.text_photo import photo_features, photo_row_report

    if model.photo is None:
        log.warning("%s has no photo head: scoring titles only", model.info.get("data", "model"))
        return None, {"photo_rows": {"n": 0, "note": "model has no photo head"}}
    feats = photo_features(rows, te, model.photo.spec, settings, cache_dir)
    errors = [{"text": rows.texts[i], "error": rows.errors[i]} for i in te if i in rows.errors]
    t_te, y_te = [rows.texts[i] for i in te], [rows.labels[i] for i in te]
    head = model.photo.meta()
    part = {
        "photo_fusion": {k: head[k] for k in ("fusion", "weight", "spec")},
        "photo_rows": photo_row_report(model, t_te, y_te, feats),
        "photo_errors": errors,
    }
    return feats, part
