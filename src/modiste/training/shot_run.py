"""``modiste train shots`` end to end: data → cached features → grouped CV report → final head."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import ConfigError
from modiste.models.heads import REFINE_BELOW, GatedHead, LinearHead, softmax
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


SPLIT_FIGURES = {
    "magento_accuracy": ("magento", "accuracy"),
    "magento_order_exact": ("magento", "order_exact_match"),
    "magento_kendall_tau": ("magento", "kendall_tau"),
    "all_accuracy": ("all", "accuracy"),
    "all_macro_f1": ("all", "macro_f1"),
}


def split_summary(reports: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Per-split headline figures of several CV splits, with their mean and standard deviation."""
    rows = [
        {"seed": seed, **{k: rep[a][b] for k, (a, b) in SPLIT_FIGURES.items()}}
        for seed, rep in reports
    ]
    values = {k: np.array([r[k] for r in rows], dtype=float) for k in SPLIT_FIGURES}
    return {
        "per_split": rows,
        "mean": {k: float(v.mean()) for k, v in values.items()},
        "sd": {k: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for k, v in values.items()},
    }


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
    cv_seeds: tuple[int, ...] = (0,),
    refine_size: int | None = None,
    refine_below: float = REFINE_BELOW,
    refine_tta: bool = True,
    refine_base: bool = False,
    refine_backbone: str | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> tuple[dict[str, Any], LinearHead | GatedHead | None]:
    """Cross-validate (``folds`` > 1), then fit on everything and save to ``out`` (if given).

    With generated rows (``extra``) and ``gate``, the head is a :class:`GatedHead`: real gallery
    classes and generated close-up/label classes each get an expert under a gate.

    ``refine_size`` (gated heads) adds a refine expert over features at that input side: at
    prediction the gallery photos still under ``refine_below`` get a second pass at that size
    (with its mirror averaged in when ``refine_tta`` and the spec's ``tta``); with
    ``refine_base`` that expert reads the first pass's features beside the larger ones.
    ``refine_backbone`` reads the refine pass with another backbone (None: the spec's).

    ``cv_seeds`` draws the grouped folds once per seed: the report is the first split's, with
    ``splits`` (per-split figures, mean and standard deviation) when there are more. With ~340
    Magento photos one split's accuracy moves by ~2 points with the draw alone.

    Returns:
        The CV report (empty without CV) and the final head (None when ``out`` is None).
    """
    from modiste.evaluation.shots import shot_report
    from modiste.gallery.regulation import load_regulation

    samples = load_shot_dataset(datasets_dir, n_flat, n_far, include_tags, extra=extra)
    paths = [s.path for s in samples]
    cache = FeatureCache(cache_dir) if cache_dir else None
    builder = FeatureBuilder(spec, settings, cache)
    step = progress("features", 2 * len(paths)) if progress else None
    x_o, x_f, x_t = builder.rows(paths, progress=step)
    y = [s.label for s in samples]
    report: dict[str, Any] = {}
    temperature: Any = 1.0
    gated = bool(detail_side(samples).any()) if gate else False
    large = None
    if refine_size:
        if not gated:
            raise ConfigError("a refine pass needs a gated head: add generated rows with --extra")
        big_spec = replace(spec, size=refine_size, backbone=refine_backbone or spec.backbone)
        big = FeatureBuilder(big_spec, settings, cache)
        step = (
            progress(f"{big_spec.backbone} features at {refine_size} px", 2 * len(paths))
            if progress
            else None
        )
        large = big.rows(
            paths, step, tta=refine_tta and spec.tta, base=builder if refine_base else None
        )
    if folds > 1:
        regulation = load_regulation(regulation_path)
        cats = _magento_category(datasets_dir)

        def split_report(seed: int) -> tuple[dict[str, Any], Any]:
            """Out-of-fold report of the split drawn with ``seed`` and its temperature(s)."""
            temp: float | tuple[float, ...]
            if gated:
                proba, labels, temp = cross_validate_gated(
                    samples,
                    x_o,
                    x_f,
                    x_t,
                    spec,
                    folds,
                    flip_aug,
                    c,
                    seed=seed,
                    large=large,
                    refine_below=refine_below,
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
                    seed=seed,
                    boost_last=n_cues(spec),
                    boost=spec.cue_weight,
                    x_t=x_t,
                )
                temp = calibrate(oof, labels, y)
                proba = softmax(oof / temp)
            pred = [labels[k] for k in proba.argmax(axis=1)]
            conf = proba.max(axis=1)
            mag = [i for i, s in enumerate(samples) if s.source == "magento"]
            pick = lambda seq: [seq[i] for i in mag]  # noqa: E731
            pids = [s.product_id for s in samples]
            rep = {
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
            rep["all"]["accuracy_with_unknown"] = float(
                np.mean([a == b for a, b in zip(y, with_unknown, strict=True)])
            )
            rep["all"]["nll"] = float(
                -np.log(
                    np.clip(proba[np.arange(len(y)), [labels.index(v) for v in y]], 1e-12, None)
                ).mean()
            )
            return rep, temp

        first, temperature = split_report(cv_seeds[0])
        report = {
            "protocol": f"{folds}-fold StratifiedGroupKFold (groups: Magento style_id, CCP image, "
            f"clothing-dataset sender_id), split seed {cv_seeds[0]}; out-of-fold predictions",
            "spec": spec.as_meta(),
            "c": c,
            "flip_aug": flip_aug,
            "temperature": temperature,
            "gated": gated,
            **first,
        }
        if len(cv_seeds) > 1:
            report["splits"] = split_summary(
                [(cv_seeds[0], first)] + [(k, split_report(k)[0]) for k in cv_seeds[1:]]
            )
    head: LinearHead | GatedHead | None = None
    if out is not None:
        if gated:
            temps = temperature if isinstance(temperature, tuple) else (1.0,) * 4
            head = train_final_gated(
                samples,
                x_o,
                x_f,
                spec,
                temps,
                c,
                flip_aug,
                threshold,
                large=None if large is None else (large[0], large[1], int(refine_size or 0)),
                refine_below=refine_below,
                refine_tta=refine_tta,
                refine_base=refine_base,
                refine_backbone=refine_backbone,
            )
        else:
            head = train_final(samples, x_o, x_f, spec, temperature, c, flip_aug, threshold)
        head.meta["data"] = (
            f"magento_luma (all), ccp_street ({n_far}), clothing_dataset ({n_flat})"
            + (", tags_fabrics" if include_tags else "")
            + "".join(f", {p.parent.name}/{p.name}" for p in extra)
        )
        head.save(out)
    return report, head
