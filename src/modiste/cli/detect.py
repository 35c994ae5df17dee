"""Garment detection commands: ``train detector``, ``eval detect`` and ``detect``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modiste.cli._apps import app, eval_app, state, train_app
from modiste.cli.progress import task_bar

CCP = Path("../shared/datasets/ccp_street")


@train_app.command("detector")
def train_detector_cmd(
    ctx: typer.Context,
    images: Path = typer.Option(CCP / "images.csv", help="images.csv (image_path, annotated)."),
    boxes: Path = typer.Option(CCP / "boxes.csv", help="boxes.csv (image_path, label, x1..y2)."),
    label_column: str = typer.Option("label", help="Box label column (mapped to the classes)."),
    holdout_fraction: float = typer.Option(0.3, help="Share of annotated images held out."),
    val_fraction: float = typer.Option(
        0.0,
        help="Share of training images set aside to compare variants on; the held-out images "
        "are then not scored.",
    ),
    tags: Path | None = typer.Option(
        None, help="tags.csv (image_id, tag): also learn from unannotated photos' tags."
    ),
    tag_weight: float = typer.Option(0.5, help="Weight of the image-level tag loss."),
    weak_batch: int = typer.Option(16, help="Tagged photos added to each batch."),
    teacher: Path | None = typer.Option(
        None,
        help="A trained head file: with --tags, train on the tagged photos as annotated, with "
        "this head's boxes that their tags confirm (pseudo-labels), instead of the tag loss.",
    ),
    pseudo_threshold: float = typer.Option(0.3, help="Lowest teacher score of a pseudo-label box."),
    dense_regression: float = typer.Option(
        0.0,
        min=0.0,
        max=1.0,
        help="Also teach box size and offset around each centre, where its Gaussian is at "
        "least this (0: at the centre only).",
    ),
    giou_weight: float = typer.Option(
        0.0,
        min=0.0,
        help="Also train each taught cell's box by its overlap with the true box (GIoU loss, "
        "this weight; 0: L1 on size and offset only).",
    ),
    paste_catalog: Path | None = typer.Option(
        None,
        help="products.csv of a catalog on white (articleType, image_path): paste its bags, "
        "belts, scarves and caps on copies of the training photos.",
    ),
    paste_per_image: int = typer.Option(1, help="Pasted copies per training photo."),
    paste_seed: int = typer.Option(0, help="Seed of the pasted copies."),
    per_class: int = typer.Option(3, help="Decoding: peaks kept per class and image."),
    nms_iou: float = typer.Option(0.6, help="Decoding: class-wise NMS overlap."),
    members: int = typer.Option(
        1, help="Train this many heads (seeds seed, seed+1, ...) and ship their average."
    ),
    seed: int = typer.Option(0, help="Seed of the train/held-out split and of training."),
    train_seed: int | None = typer.Option(
        None,
        help="Seed of training only (members train-seed, train-seed+1, ...); the split "
        "keeps --seed. Default: --seed.",
    ),
    epochs: int = typer.Option(60),
    lr: float = typer.Option(2e-3),
    batch_size: int = typer.Option(32),
    width: int = typer.Option(128, help="Channels of the head."),
    input_width: int = typer.Option(320, help="Network input width (multiple of 32)."),
    input_height: int = typer.Option(480, help="Network input height (multiple of 32)."),
    shift_cells: int = typer.Option(0, help="Random shift augmentation, stride-32 cells."),
    feature_dropout: float = typer.Option(0.1, help="Channel dropout on cached features."),
    tune_from: int = typer.Option(
        14, help="Fine-tune the backbone's blocks from this one on with the head (0: frozen)."
    ),
    tune_lr: float = typer.Option(2e-4, help="Learning rate of the tuned blocks."),
    tta: bool = typer.Option(True, help="Mirror test-time augmentation (scored and shipped)."),
    out: Path | None = typer.Option(
        None, help="Head file (default DATA_DIR/models/detector_<backbone>.npz)."
    ),
    holdout_csv: Path | None = typer.Option(None, help="Write the held-out image list here."),
    validation_csv: Path | None = typer.Option(
        None, help="Write the validation image list here (with --val-fraction)."
    ),
    report: Path | None = typer.Option(None, help="Write the training report JSON here."),
    cache_dir: Path | None = typer.Option(
        None, help="Feature cache (default DATA_DIR/cache/detector)."
    ),
) -> None:
    """Train the detector head on a frozen backbone; report held-out mAP50."""
    from modiste.evaluation.report import write_json
    from modiste.models.detector_head import HeadConfig
    from modiste.training.detector import DetectorTrainConfig, train_detector

    st = state(ctx)
    head = HeadConfig(
        input_width=input_width,
        input_height=input_height,
        width=width,
        tune_from=tune_from,
        tta=tta,
        per_class=per_class,
        nms_iou=nms_iou,
        members=members,
    )
    tc = DetectorTrainConfig(
        head=head,
        label_column=label_column,
        holdout_fraction=holdout_fraction,
        val_fraction=val_fraction,
        seed=seed,
        train_seed=train_seed,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        shift_cells=shift_cells,
        feature_dropout=feature_dropout,
        tune_lr=tune_lr,
        tag_weight=tag_weight,
        weak_batch=weak_batch,
        paste_per_image=paste_per_image,
        paste_seed=paste_seed,
        pseudo_threshold=pseudo_threshold,
        dense_regression=dense_regression,
        giou_weight=giou_weight,
    )
    target = out or st.settings.model_dir / f"detector_{st.settings.backbone}.npz"
    with task_bar(st.err) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        result = train_detector(
            st.settings,
            images,
            boxes,
            target,
            holdout_csv,
            tc,
            cache_dir or st.settings.cache_dir / "detector",
            progress,
            tags,
            paste_catalog,
            teacher,
            validation_csv,
        )
    name = "validation" if "validation" in result else "held-out"
    held = result.get("validation") or result.get("held_out")
    if held:
        st.console.print(
            f"{name} mAP50 {held['map50']:.3f}  recall50 {held['recall50']:.3f}  "
            f"({held['n_images']} images)"
        )
        for cls, ap in held["per_class"].items():
            st.console.print(f"  {cls:<10} AP50 {ap:.3f}")
    for row in result.get("decode_sweep", []):
        st.console.print(
            f"  decode: {row['per_class']:>2} peaks per class, NMS {row['nms_iou']:.1f}: "
            f"mAP50 {row['map50']:.3f}"
        )
    st.console.print(f"wrote {target} ({result['weights_bytes'] / 1e6:.2f} MB)")
    if report:
        write_json(result, report)


@eval_app.command("detect")
def eval_detect_cmd(
    ctx: typer.Context,
    images: Path = typer.Option(..., help="images.csv (image_path, optional annotated)."),
    boxes: Path = typer.Option(..., help="boxes.csv (image_path, label column, x1,y1,x2,y2)."),
    label_column: str = typer.Option("label", help="Box label column, mapped to the classes."),
    json_path: Path = typer.Option(..., "--json", help="Report JSON; a PNG sample goes beside it."),
    detector: str = typer.Option("default", help="'default', a .npz head or a YOLO .onnx file."),
    classes: Path | None = typer.Option(None, help="Class names for an ONNX detector."),
    min_score: float = typer.Option(0.01, help="Keep detections above this score (AP needs low)."),
    sample: int = typer.Option(12, help="Images drawn into the PNG grid (0: none)."),
) -> None:
    """Score a detector: VOC AP50 per class, mAP50 over classes present, recall50."""
    from modiste.evaluation.detection import read_detection_set, run_detection_eval
    from modiste.evaluation.report import write_json
    from modiste.imaging import decode_image
    from modiste.models.detector import create_detector

    st = state(ctx)
    det = create_detector(st.settings, detector, classes_path=classes, min_score=min_score)
    items = read_detection_set(images, boxes, label_column, det.classes)
    with task_bar(st.err) as bar:
        task = bar.add_task("detect", total=len(items))
        result = run_detection_eval(
            det.predict,
            items,
            det.classes,
            load=lambda p: decode_image(p, max_pixels=st.settings.max_image_pixels).image,
            sample=sample,
            png_path=json_path.with_suffix(".png"),
            on_batch=lambda n: bar.advance(task, n),
        )
    result["detector"] = detector
    write_json(result, json_path)
    st.console.print(
        f"mAP50 {result['map50']:.3f}  recall50 {result['recall50']:.3f}  "
        f"({result['n_images']} images) -> {json_path}"
    )
    for cls, ap in result["per_class"].items():
        st.console.print(f"  {cls:<10} AP50 {ap:.3f}")


@app.command("detect")
def detect_cmd(
    ctx: typer.Context,
    images: list[Path] = typer.Argument(..., help="Image files."),
    detector: str = typer.Option("default", help="'default', a .npz head or a YOLO .onnx file."),
    classes: Path | None = typer.Option(None, help="Class names for an ONNX detector."),
    min_score: float | None = typer.Option(None, help="Confidence threshold."),
) -> None:
    """Print the garments found in each image as JSON lines (whole image when none)."""
    from modiste.imaging import decode_image
    from modiste.models.detector import create_detector
    from modiste.search.crops import garments_or_whole

    st = state(ctx)
    det = create_detector(st.settings, detector, classes_path=classes, min_score=min_score)
    for path in images:
        im = decode_image(path, max_pixels=st.settings.max_image_pixels).image
        found = garments_or_whole(im, det.predict([im])[0])
        rows = [
            {
                "label": g.label,
                "confidence": round(g.confidence, 4),
                "box": [round(v, 1) for v in (g.box.x1, g.box.y1, g.box.x2, g.box.y2)],
            }
            for g in found
        ]
        st.console.print_json(json.dumps({"image": str(path), "garments": rows}))
