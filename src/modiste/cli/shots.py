"""Shot-type commands: ``train shots``, ``train shots-synth``, ``eval shots``, ``shots predict``,
``shots learn``."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from modiste.cli._apps import app, eval_app, state, train_app
from modiste.cli.progress import task_bar
from modiste.errors import FeedError, ImageDecodeError

shots_app = typer.Typer(help="Classify shot types and teach new ones.", no_args_is_help=True)
app.add_typer(shots_app, name="shots")

DEFAULT_DATASETS = Path("../shared/datasets")


@train_app.command("shots")
def train_shots_cmd(
    ctx: typer.Context,
    datasets: Path = typer.Option(
        DEFAULT_DATASETS, help="Folder holding magento_luma/, ccp_street/, clothing_dataset/."
    ),
    out: Path | None = typer.Option(
        None, help="Head file to write (default DATA_DIR/models/shots_<backbone>.npz)."
    ),
    no_save: bool = typer.Option(False, "--no-save", help="Only cross-validate; write no head."),
    cv: int = typer.Option(5, help="Grouped CV folds for the held-out report (0: skip)."),
    cv_splits: int = typer.Option(
        1,
        min=1,
        help="Draw the grouped folds this many times (seeds 0, 1, ...) and report each split's "
        "figures with their mean and spread; the head is calibrated on the first.",
    ),
    cv_seed: int = typer.Option(
        0,
        min=0,
        help="Seed of the first split: score a recipe chosen on splits 0-4 once on fresh "
        "ones (--cv-seed 5).",
    ),
    report: Path | None = typer.Option(None, "--report", help="Write the CV report JSON here."),
    backbone: str | None = typer.Option(None, help="Backbone (default: settings)."),
    pooling: str = typer.Option("avgmax", help="avg | max | gem | avgmax."),
    size: int = typer.Option(224, help="Input side in pixels."),
    cues: bool = typer.Option(True, help="Append face/layout cues to the features."),
    cue_set: str = typer.Option(
        "layout",
        help="layout | all (adds Haar face cues; slower) | layout_frame (adds how alike the "
        "3x3 grid cells are: fabric filling the frame vs crops with an outline).",
    ),
    cue_weight: float = typer.Option(
        1.0, help="Boost of the standardised cue columns in the head."
    ),
    flip_aug: bool = typer.Option(True, help="Train on mirrored copies too."),
    tta: bool = typer.Option(False, help="Average original and mirrored logits at prediction."),
    c: float = typer.Option(1.0, "-C", help="Inverse L2 strength of the logistic head."),
    threshold: float = typer.Option(0.5, help="Confidence below which a prediction is 'unknown'."),
    n_flat: int = typer.Option(300, help="clothing_dataset photos sampled as flat_front."),
    n_far: int = typer.Option(300, help="ccp_street photos sampled as far_front."),
    include_tags: bool = typer.Option(
        False, help="Also train on tags_fabrics (its README: evaluation only)."
    ),
    extra: list[Path] = typer.Option(
        [],
        "--extra",
        help="Extra gallery CSV to train on (product_id, image_path, shot [, style_id]), e.g. "
        "the one `modiste train shots-synth` writes; repeatable.",
    ),
    cache_dir: Path | None = typer.Option(
        Path("/tmp/modiste-cache/shots"), help="Feature cache ('' to disable)."
    ),
    gate: bool = typer.Option(
        True,
        help="With --extra: one expert for real gallery classes, one for the generated classes, "
        "under a gate (keeps the gallery classes as trained on real photos).",
    ),
    refine_size: int = typer.Option(
        0,
        help="Gated heads: also fit a gallery expert on this larger input side; gallery photos "
        "the head is unsure of get a second pass at that size (0: none).",
    ),
    refine_below: float = typer.Option(
        0.9, help="The refine pass reads gallery photos whose top probability is under this."
    ),
    refine_tta: bool = typer.Option(
        True, help="Average the mirror into the refine pass too (with --tta; twice its cost)."
    ),
    refine_base: bool = typer.Option(
        False, help="The refine expert reads the first pass's features beside the larger ones."
    ),
    refine_backbone: str = typer.Option(
        "", help="Backbone of the refine pass (default: the first pass's, see --backbone)."
    ),
) -> None:
    """Train the shot head on real photos; with --cv, report held-out figures first."""
    from modiste.gallery.classifier import user_head_path
    from modiste.training.shot_run import train_shots
    from modiste.training.shots import FeatureSpec

    st = state(ctx)
    bb = backbone or st.settings.backbone
    spec = FeatureSpec(bb, pooling, size, cues, cue_set, tta, cue_weight)
    target = None if no_save else (out or user_head_path(st.settings, bb))
    with task_bar(st.err) as bar:

        def progress(stage: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(stage, total=total)
            return lambda n: bar.advance(task, n)

        rep, _ = train_shots(
            st.settings,
            datasets,
            spec,
            folds=cv,
            c=c,
            flip_aug=flip_aug,
            threshold=threshold,
            n_flat=n_flat,
            n_far=n_far,
            include_tags=include_tags,
            extra=tuple(extra),
            out=target,
            cache_dir=cache_dir if cache_dir and str(cache_dir) else None,
            gate=gate,
            cv_seeds=tuple(range(cv_seed, cv_seed + cv_splits)),
            refine_size=refine_size or None,
            refine_below=refine_below,
            refine_tta=refine_tta,
            refine_base=refine_base,
            refine_backbone=refine_backbone or None,
            progress=progress,
        )
    if rep:
        if report:
            from modiste.evaluation.report import plot_confusion, write_json

            write_json(rep, report)
            for part in ("all", "magento"):
                conf = rep[part]["confusion"]
                plot_confusion(
                    conf["labels"],
                    conf["matrix"],
                    report.with_name(f"{report.stem}_{part}_confusion.png"),
                    f"shots CV ({part})",
                )
        a, m = rep["all"], rep["magento"]
        st.console.print(
            f"CV all: acc {a['accuracy']:.3f} macro-F1 {a['macro_f1']:.3f} | Magento: acc "
            f"{m['accuracy']:.3f}, order exact {m['order_exact_match']:.3f}, "
            f"tau {m['kendall_tau']:.3f} "
            f"| T={_temperatures(rep['temperature'])}"
        )
        if "splits" in rep:
            mean, sd = rep["splits"]["mean"], rep["splits"]["sd"]
            st.console.print(
                f"over {len(rep['splits']['per_split'])} splits: Magento acc "
                f"{mean['magento_accuracy']:.3f} ± {sd['magento_accuracy']:.3f}, order exact "
                f"{mean['magento_order_exact']:.3f} ± {sd['magento_order_exact']:.3f}, all acc "
                f"{mean['all_accuracy']:.3f}"
            )
    if target is not None:
        st.console.print(f"head written to [bold]{target}[/]")


def _temperatures(t: float | tuple[float, ...]) -> str:
    """One temperature, or gate/gallery/detail temperatures of a gated head."""
    if isinstance(t, tuple | list):
        names = "gate/gallery/detail" + ("/refine" if len(t) > 3 else "")
        return "/".join(f"{v:.2f}" for v in t) + f" ({names})"
    return f"{t:.2f}"


@train_app.command("shots-synth")
def shots_synth_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder for images/ and gallery.csv."),
    per_class: int = typer.Option(100, "--per-class", min=1, help="Images per class."),
    seed: int = typer.Option(0, help="Same seed, same images."),
    classes: str = typer.Option("", help="Comma-separated classes (default: every generator)."),
    datasets: Path = typer.Option(
        DEFAULT_DATASETS, help="Folder holding magento_luma/ and clothing_dataset/ (the sources)."
    ),
    size: int = typer.Option(384, min=64, help="Long side of each image in pixels."),
    sheets: Path | None = typer.Option(None, help="Also write one contact-sheet PNG per class."),
    generated_sources: bool = typer.Option(
        False,
        "--generated-sources",
        help="Cut from drawn garments instead of the data sets (to try it out; not for training).",
    ),
) -> None:
    """Generate training photos for labels, charts and close-ups from real garment photos."""
    from modiste.training.synth import CLASSES, SourcePool, contact_sheets, write_dataset
    from modiste.training.synth.generate import overview_sheet

    st = state(ctx)
    chosen = [c.strip() for c in classes.split(",") if c.strip()] or list(CLASSES)
    pool = (
        SourcePool.generated(seed=seed) if generated_sources else SourcePool.from_datasets(datasets)
    )
    with task_bar(st.err) as bar:
        task = bar.add_task("generate", total=per_class * len(chosen))
        csv_path = write_dataset(
            out, pool, chosen, per_class, seed, size, lambda n: bar.advance(task, n)
        )
    st.console.print(
        f"{per_class * len(chosen)} images → [bold]{csv_path}[/] "
        f"(train with `modiste train shots --extra {csv_path}`)"
    )
    if sheets is not None:
        written = contact_sheets(csv_path, sheets)
        overview = overview_sheet(csv_path, sheets / "overview.png")
        st.console.print(f"{len(written)} contact sheets and {overview.name} → [bold]{sheets}[/]")


@eval_app.command("shots")
def eval_shots_cmd(
    ctx: typer.Context,
    data: Path = typer.Option(
        ..., "--data", help="Gallery CSV: product_id, image_path, shot [, category]."
    ),
    regulation: Path | None = typer.Option(
        None, help="Regulation YAML (default: shipped default)."
    ),
    json_out: Path = typer.Option(
        Path("shots_eval.json"), "--json", help="Report JSON path (PNG beside it)."
    ),
    runtime: str = typer.Option("onnx", help="onnx | torch."),
) -> None:
    """Classify every image of a gallery CSV, and score labels and per-product order."""
    from modiste.evaluation.report import write_report
    from modiste.evaluation.shots import shot_report
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.gallery.regulation import load_regulation
    from modiste.imaging import decode_image

    st = state(ctx)
    if not data.is_file():
        raise FeedError(f"gallery CSV not found: {data}")
    with data.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = set(reader.fieldnames or ())
    missing = {"product_id", "image_path", "shot"} - columns
    if missing:
        raise FeedError(f"{data}: missing columns {', '.join(sorted(missing))}")
    if not rows:
        raise FeedError(f"{data}: no rows")
    reg = load_regulation(regulation)
    clf = create_shot_classifier(st.settings, runtime=runtime)
    preds, kept = [], []
    with task_bar(st.err) as bar:
        task = bar.add_task("classify", total=len(rows))
        for i in range(0, len(rows), 16):
            chunk = rows[i : i + 16]
            ims, ok = [], []
            for r in chunk:
                try:
                    ims.append(
                        decode_image(
                            data.parent / r["image_path"], draft_size=clf.spec.size * 2
                        ).image
                    )
                    ok.append(r)
                except ImageDecodeError as e:
                    st.err.print(f"skipping {r['image_path']}: {e}", highlight=False)
            preds += clf.predict(ims) if ims else []
            kept += ok
            bar.advance(task, len(chunk))
    if not kept:
        raise FeedError(f"{data}: none of its {len(rows)} images could be read")
    rep = shot_report(
        [r["product_id"] for r in kept],
        [r["shot"] for r in kept],
        [p.label for p in preds],
        reg,
        [r.get("category") for r in kept],
        [p.confidence for p in preds],
        model_labels=clf.labels,
    )
    rep.update(
        {
            "data": str(data),
            "backbone": clf.spec.backbone,
            "head_source": clf.source,
            "n_skipped": len(rows) - len(kept),
        }
    )
    _, png = write_report(rep, json_out, f"shots: {data.name}")
    st.console.print(_per_class_table(rep))
    if rep["classes_not_in_model"]:
        st.console.print(
            f"not in model: {', '.join(rep['classes_not_in_model'])} "
            f"({rep['n_images_not_in_model']} images; add them with `modiste shots learn`); "
            f"accuracy on the classes the model has {rep['accuracy_in_model'] or 0.0:.3f}",
            highlight=False,
        )
    st.console.print(
        f"accuracy {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}, order exact "
        f"{rep['order_exact_match'] if rep['order_exact_match'] is not None else float('nan'):.3f} "
        f"over {rep['n_images']} images / {rep['n_products']} products → {json_out} ({png})"
    )


def _per_class_table(rep: dict[str, Any]) -> Table:
    """Recall, precision and F1 per true class; a class the model lacks says so."""
    from modiste.evaluation.shots import NOT_IN_MODEL

    table = Table("class", "support", "recall", "precision", "F1", "note")
    for lab, v in rep["per_class"].items():
        if v.get("status") == NOT_IN_MODEL:
            top = ", ".join(f"{k} {n}" for k, n in list(v["predicted_as"].items())[:3])
            table.add_row(
                lab, str(v["support"]), "-", "-", "-", f"{NOT_IN_MODEL} (taken for {top})"
            )
        else:
            table.add_row(
                lab,
                str(v["support"]),
                f"{v['recall']:.2f}",
                f"{v['precision']:.2f}",
                f"{v['f1']:.2f}",
                "",
            )
    return table


@shots_app.command("predict")
def predict_cmd(
    ctx: typer.Context,
    images: list[Path] = typer.Argument(..., help="Image files."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """Print the shot type of each image."""
    from modiste.gallery.classifier import create_shot_classifier

    st = state(ctx)
    clf = create_shot_classifier(st.settings)
    for path, p in zip(images, clf.predict_paths(images), strict=True):
        if as_json:
            st.console.print_json(
                json.dumps(
                    {
                        "image": str(path),
                        "label": p.label,
                        "confidence": p.confidence,
                        "scores": p.scores,
                        "source": p.source,
                    }
                )
            )
        else:
            st.console.print(f"{path}\t{p.label}\t{p.confidence:.3f}", highlight=False)


@shots_app.command("learn")
def learn_cmd(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="One sub-folder per class, a handful of images each."),
) -> None:
    """Add or sharpen shot classes from examples (the backbone is not retrained)."""
    from modiste.gallery.classifier import learn_shots

    st = state(ctx)
    path, counts = learn_shots(st.settings, folder)
    st.console.print(
        "learned " + ", ".join(f"{k} ({v})" for k, v in counts.items()) + f" → [bold]{path}[/]"
    )
