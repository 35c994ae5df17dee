"""``modiste train detector`` on a tiny detection set: validation runs, tags, decode sweep."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw
from typer.testing import CliRunner

from modiste.cli._apps import app
from modiste.cli.app import _load_commands
from modiste.models.detector_head import load_head


def _detection_set(root: Path) -> tuple[Path, Path, Path]:
    """Ten annotated photos (a red "top" box) and four tagged ones, in CCP's file layout."""
    (root / "images").mkdir()
    images, boxes, tags = ["image_id,image_path,annotated"], ["image_path,label,x1,y1,x2,y2"], []
    for i in range(14):
        im = Image.new("RGB", (64, 96), "white")
        ImageDraw.Draw(im).rectangle([10 + i, 20, 40 + i, 60], fill="red")
        im.save(root / "images" / f"{i}.jpg")
        annotated = i < 10
        images.append(f"{i},images/{i}.jpg,{int(annotated)}")
        if annotated:
            boxes.append(f"images/{i}.jpg,shirt,{10 + i},20,{40 + i},60")
        else:
            tags.append(f"{i},shirt")
    paths = root / "images.csv", root / "boxes.csv", root / "tags.csv"
    for path, lines in zip(paths, (images, boxes, ["image_id,tag", *tags]), strict=True):
        path.write_text("\n".join(lines) + "\n")
    return paths


def test_a_validation_run_scores_part_of_train_and_leaves_the_held_out_unscored(
    tmp_path: Path,
) -> None:
    _load_commands()
    images, boxes, tags = _detection_set(tmp_path)
    out, report_path = tmp_path / "head.npz", tmp_path / "report.json"
    args = ["--holdout-fraction", "0.2", "--val-fraction", "0.25", "--epochs", "2"]
    args += ["--batch-size", "4", "--weak-batch", "2", "--width", "16", "--per-class", "5"]
    args += ["--members", "2"]
    args += ["--input-width", "64", "--input-height", "96", "--tags", str(tags)]
    args += ["--images", str(images), "--boxes", str(boxes), "--out", str(out)]
    args += ["--report", str(report_path)]
    held_csv, val_csv = tmp_path / "lists" / "held.csv", tmp_path / "lists" / "val.csv"
    args += ["--holdout-csv", str(held_csv), "--validation-csv", str(val_csv)]
    data = str(tmp_path / "data")
    result = CliRunner().invoke(app, ["--data-dir", data, "train", "detector", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "validation mAP50" in result.stdout and "decode:" in result.stdout
    report = json.loads(report_path.read_text())
    assert (report["n_held_out"], report["n_validation"], report["n_train"]) == (2, 2, 6)
    assert report["n_tagged"] == 4 and "held_out" not in report
    assert 0.0 <= report["validation"]["map50"] <= 1.0
    sweep = report["decode_sweep"]
    assert len(sweep) == 9 and {row["per_class"] for row in sweep} == {3, 5, 10}
    _, cfg = load_head(out)
    assert cfg.per_class == 5 and cfg.members == 2 and cfg.extra["n_tagged"] == 4
    assert {row["member"] for row in report["history"]} == {0, 1}
    # the validation list is written for benchmarks.detector_ab, apart from the held-out one
    held_rows, val_rows = (p.read_text().splitlines()[1:] for p in (held_csv, val_csv))
    assert len(held_rows) == 2 and len(val_rows) == 2 and not set(held_rows) & set(val_rows)
    assert all((val_csv.parent / row.split(",")[0]).exists() for row in val_rows)


def test_a_teacher_pseudo_labels_the_tagged_photos(tmp_path: Path) -> None:
    _load_commands()
    images, boxes, tags = _detection_set(tmp_path)
    base = ["--holdout-fraction", "0.2", "--epochs", "1", "--batch-size", "4", "--width", "16"]
    base += ["--input-width", "64", "--input-height", "96"]
    base += ["--images", str(images), "--boxes", str(boxes)]
    data = ["--data-dir", str(tmp_path / "data")]
    teacher = tmp_path / "teacher.npz"
    result = CliRunner().invoke(app, [*data, "train", "detector", *base, "--out", str(teacher)])
    assert result.exit_code == 0, (result.output, result.exception)
    student, report_path = tmp_path / "student.npz", tmp_path / "report.json"
    args = [*base, "--teacher", str(teacher), "--pseudo-threshold", "0.0"]
    args += ["--out", str(student), "--report", str(report_path)]
    result = CliRunner().invoke(app, [*data, "train", "detector", *args])
    assert result.exit_code != 0 and "--tags" in str(result.exception)
    bad = CliRunner().invoke(app, [*data, "train", "detector", *args, "--dense-regression", "2"])
    assert bad.exit_code != 0 and "--dense-regression" in bad.output
    no_val = [*base, "--validation-csv", str(tmp_path / "val.csv")]
    no_val += ["--holdout-csv", str(tmp_path / "held.csv")]
    bad = CliRunner().invoke(app, [*data, "train", "detector", *no_val])
    assert bad.exit_code != 0 and "--val-fraction" in str(bad.exception)
    assert not (tmp_path / "val.csv").exists() and not (tmp_path / "held.csv").exists()
    args += ["--tags", str(tags), "--dense-regression", "0.2", "--giou-weight", "1"]
    result = CliRunner().invoke(app, [*data, "train", "detector", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(report_path.read_text())
    # at threshold 0 the teacher gives each tagged photo its one tagged top
    assert report["n_tagged"] == 4 and report["n_pseudo_boxes"] == 4
    assert report["pseudo_untaught_share"] == 0.0 and "held_out" in report
    _, cfg = load_head(student)
    assert cfg.extra["teacher"] == "teacher.npz" and cfg.extra["pseudo_threshold"] == 0.0
    assert cfg.extra["dense_regression"] == 0.2  # provenance: how the head was taught
    assert cfg.extra["giou_weight"] == 1.0
    # the report says the same, so a run can be repeated from it alone
    options = report["options"]
    assert options["teacher"] == "teacher.npz" and options["dense_regression"] == 0.2
    assert options["head"]["input_width"] == 64 and options["head"]["members"] == 1


def test_a_training_seed_retrains_on_the_same_split(tmp_path: Path) -> None:
    _load_commands()
    images, boxes, _ = _detection_set(tmp_path)
    base = ["--holdout-fraction", "0.2", "--val-fraction", "0.25", "--epochs", "1"]
    base += ["--batch-size", "4", "--width", "16", "--input-width", "64", "--input-height", "96"]
    base += ["--images", str(images), "--boxes", str(boxes)]
    data = ["--data-dir", str(tmp_path / "data")]
    heads = {}
    for name, extra in (
        ("default", []),
        ("zero", ["--train-seed", "0"]),
        ("7", ["--train-seed", "7"]),
    ):
        out = tmp_path / f"{name}.npz"
        args = [*base, *extra, "--out", str(out), "--validation-csv", str(tmp_path / f"{name}.csv")]
        result = CliRunner().invoke(app, [*data, "train", "detector", *args])
        assert result.exit_code == 0, (result.output, result.exception)
        heads[name] = load_head(out)
    lists = {name: (tmp_path / f"{name}.csv").read_text() for name in heads}
    assert lists["default"] == lists["zero"] == lists["7"]  # the split follows --seed only

    def same(a: str, b: str) -> bool:
        sa, sb = heads[a][0].state_dict(), heads[b][0].state_dict()
        return all(sa[k].equal(sb[k]) for k in sa)

    assert same("default", "zero")  # the default trains from --seed
    assert not same("default", "7")
    assert heads["7"][1].extra["train_seed"] == 7
