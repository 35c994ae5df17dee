"""``modiste train shots`` end to end: data → cached features → grouped CV report → final head."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from modiste.models.heads import GatedHead, LinearHead, softmax
from modiste.training.shot_data import FeatureCache, load_shot_dataset
from modiste.training.shots import (
    FeatureBuilder,
    FeatureSpec,
    calibrate,
    cross_validate,
    cross_validate_gated,
    detail_side,
    n_cues,
    train_final,
    train_final_gated,
)

log = logging.getLogger(__name__)


def _magento_category(datasets_dir: Path) -> dict[str, str]:
    import csv

    with (datasets_dir / "magento_luma" / "gallery.csv").open(newline="", encoding="utf-8") as f:
        return {r["product_id"]: r["category"] for r in csv.DictReader(f)}


def train_shots(
    settings: Any,
    datasets_dir: Path,
    spec: FeatureSpec,
    *,
    folds: int = 5,
    c: float = 1.0,
    flip_aug: bool = True,
    threshold: float = 0.5,
    n_flat: int = 300,
    n_far: int = 300,
    include_tags: bool = False,
    extra: tuple[Path, ...] = (),
    out: Path | None = None,
    cache_dir: Path | None = None,
    regulation_path: Path | None = None,
    gate: bool = True,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> tuple[dict[str, Any], LinearHead | GatedHead | None]:
    """Cross-validate (``folds`` > 1), then fit on everything and save to ``out`` (if given).

    With generated rows (``extra``) and ``gate``, the head is a :class:`GatedHead`: real gallery
    classes and generated close-up/label classes each get an expert under a gate.

    Returns:
        The CV report (empty without CV) and the final head (None when ``out`` is None).
    """
    from modiste.evaluation.shots import shot_report
    from modiste.gallery.regulation import load_regulation

    samples = load_shot_dataset(datasets_dir, n_flat, n_far, include_tags, extra=extra)
    paths = [s.path for s in samples]
    builder = FeatureBuilder(spec, settings, FeatureCache(cache_dir) if cache_dir else None)
    step = progress("features", 2 * len(paths)) if progress else None
    x_o, x_f, x_t = builder.rows(paths, progress=step)
    y = [s.label for s in samples]
    report: dict[str, Any] = {}
    temperature: Any = 1.0
    gated = bool(detail_side(samples).any()) if gate else False
    if folds > 1:
        if gated:
            proba, labels, temperature = cross_validate_gated(
                samples, x_o, x_f, x_t, spec, folds, flip_aug, c
            )
        else:
            oof, labels = cross_validate(
                samples,
                x_o,
                x_f,
                folds,
                flip_aug,
                c,
                spec.tta,
                boost_last=n_cues(spec),
                boost=spec.cue_weight,
                x_t=x_t,
            )
            temperature = calibrate(oof, labels, y)
            proba = softmax(oof / temperature)
        best = proba.argmax(axis=1)
        pred = [labels[k] for k in best]
        conf = proba.max(axis=1)
        regulation = load_regulation(regulation_path)
        cats = _magento_category(datasets_dir)
        mag = [i for i, s in enumerate(samples) if s.source == "magento"]
        pick = lambda seq: [seq[i] for i in mag]  # noqa: E731
        pids = [s.product_id for s in samples]
        report = {
            "protocol": f"{folds}-fold StratifiedGroupKFold (groups: Magento style_id, CCP image, "
            "clothing-dataset sender_id); out-of-fold predictions",
            "spec": spec.as_meta(),
            "c": c,
            "flip_aug": flip_aug,
            "temperature": temperature,
            "gated": gated,
            "all": shot_report(pids, y, pred, regulation, None, list(conf), labels),
            "magento": shot_report(
                pick(pids),
                pick(y),
                pick(pred),
                regulation,
                [cats.get(pids[i]) for i in mag],
                list(conf[mag]),
            ),
        }
        with_unknown = [
            p if c_ >= threshold else "unknown" for p, c_ in zip(pred, conf, strict=True)
        ]
        report["all"]["accuracy_with_unknown"] = float(
            np.mean([a == b for a, b in zip(y, with_unknown, strict=True)])
        )
        report["all"]["nll"] = float(
            -np.log(
                np.clip(proba[np.arange(len(y)), [labels.index(v) for v in y]], 1e-12, None)
            ).mean()
        )
    head: LinearHead | GatedHead | None = None
    if out is not None:
        if gated:
            temps = temperature if isinstance(temperature, tuple) else (1.0, 1.0, 1.0)
            head = train_final_gated(samples, x_o, x_f, spec, temps, c, flip_aug, threshold)
        else:
            head = train_final(samples, x_o, x_f, spec, temperature, c, flip_aug, threshold)
        head.meta["data"] = (
            f"magento_luma (all), ccp_street ({n_far}), clothing_dataset ({n_flat})"
            + (", tags_fabrics" if include_tags else "")
            + "".join(f", {p.parent.name}/{p.name}" for p in extra)
        )
        head.save(out)
    return report, head
