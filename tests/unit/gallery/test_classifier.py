from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.gallery.classifier import (
    ShotClassifier,
    create_shot_classifier,
    learn_shots,
    load_shot_head,
    user_head_path,
)
from modiste.models.embedder import Embedder
from modiste.models.heads import GatedHead, LinearHead, load_head
from modiste.models.registry import create_backbone
from modiste.models.shot_head import FeatureSpec, combine, fit_head, n_cues
from modiste.training.shots import fit_gated


def _solid(color: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(color) + rng.integers(-20, 20, (48, 40, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def _chart(seed: int) -> Image.Image:
    im = Image.new("RGB", (40, 48), "white")
    d = ImageDraw.Draw(im)
    for k in range(0, 48, 6 + seed % 2):
        d.line([0, k, 40, k], fill="black")
    return im


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(64)
    return Embedder(bb, pooling="avg", runtime="torch")


@pytest.fixture(scope="module")
def base_head(embedder: Embedder) -> LinearHead:
    spec = FeatureSpec(backbone="timm:test_efficientnet", pooling="avg", size=64, cues=True)
    ims = [_solid((200, 30, 30), i) for i in range(6)] + [
        _solid((30, 30, 200), i) for i in range(6)
    ]
    y = ["near_front"] * 6 + ["packshot"] * 6
    from modiste.models.cues import CueExtractor

    x = combine(embedder.predict(ims), CueExtractor().predict(ims), spec)
    head = fit_head(x, y, ["near_front", "packshot"])
    head.meta = {**spec.as_meta(), "threshold": 0.5}
    head.memory_x, head.memory_y = x, np.array(y)
    return head


@pytest.fixture
def clf(base_head: LinearHead, embedder: Embedder) -> ShotClassifier:
    return ShotClassifier(copy.deepcopy(base_head), embedder)


def test_predict_returns_shot_predictions(clf: ShotClassifier) -> None:
    preds = clf.predict([_solid((200, 30, 30), 99), _solid((30, 30, 200), 98)])
    assert all(isinstance(p, ShotPrediction) for p in preds)
    assert [p.label for p in preds] == ["near_front", "packshot"]
    assert set(preds[0].scores) == {"near_front", "packshot"}
    assert abs(sum(preds[0].scores.values()) - 1.0) < 1e-3
    assert clf.predict([]) == []


def test_threshold_gives_unknown(clf: ShotClassifier) -> None:
    clf.threshold = 1.01
    assert clf.predict([_solid((200, 30, 30), 5)])[0].label == "unknown"


def test_learn_adds_a_class_without_touching_the_backbone(clf: ShotClassifier) -> None:
    before = [p.clone() for p in clf.embedder.backbone.module.parameters()]
    clf.learn({"size_chart": [_chart(i) for i in range(4)]})
    assert "size_chart" in clf.labels and clf.source == "few_shot"
    assert clf.predict([_chart(7)])[0].label == "size_chart"
    assert clf.predict([_solid((30, 30, 200), 50)])[0].label == "packshot"
    after = list(clf.embedder.backbone.module.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert clf.head.meta["few_shot_classes"] == ["size_chart"]


def test_user_head_overrides_and_learn_cli_path(clf: ShotClassifier, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", backbone="mobilenet_v2")
    # A user head for mobilenet_v2 (random, 1280-d avg features + cues) in DATA_DIR/models.
    spec = FeatureSpec(backbone="mobilenet_v2", pooling="avg", size=64)
    dim = 1280 + n_cues(spec)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, dim)).astype(np.float32)
    head = fit_head(x, ["near_front", "near_back"] * 4, ["near_back", "near_front"])
    head.meta = {**spec.as_meta(), "threshold": 0.0}
    head.memory_x, head.memory_y = x, np.array(["near_front", "near_back"] * 4)
    head.save(user_head_path(settings))
    loaded, origin = load_shot_head(settings)
    assert origin == "user" and loaded.labels == ["near_back", "near_front"]

    real = create_shot_classifier(settings, runtime="torch")
    assert real.predict([_solid((10, 10, 10), 1)])[0].label in {"near_back", "near_front"}

    ex = tmp_path / "examples" / "wash_tag"
    ex.mkdir(parents=True)
    for i in range(3):
        _chart(i).save(ex / f"{i}.png")
    (ex / "notes.txt").write_text("ignored")
    path, counts = learn_shots(settings, tmp_path / "examples")
    assert counts == {"wash_tag": 3} and path == user_head_path(settings)
    assert "wash_tag" in load_shot_head(settings)[0].labels


def _eval_cli(tmp_path: Path, shots: list[str]) -> tuple[Path, str]:
    """``modiste eval shots`` on two products with ``shots`` each; the head knows front/back."""
    from typer.testing import CliRunner

    from modiste.cli import shots as _  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    data = tmp_path / "set"
    (data / "img").mkdir(parents=True)
    rows = []
    for pid in ("p1", "p2"):
        for j, shot in enumerate(shots):
            _solid((40 * j, 90, 90), j).save(data / "img" / f"{pid}{j}.jpg")
            rows.append({"product_id": pid, "image_path": f"img/{pid}{j}.jpg", "shot": shot})
    with (data / "g.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, ["product_id", "image_path", "shot"])
        w.writeheader()
        w.writerows(rows)
    settings = Settings(data_dir=tmp_path / "d")
    x = np.random.default_rng(1).normal(size=(6, 2560 + n_cues(FeatureSpec()))).astype(np.float32)
    head = fit_head(x, ["near_front", "near_back"] * 3, ["near_back", "near_front"])
    head.meta = {**FeatureSpec(size=64).as_meta(), "threshold": 0.0}
    head.save(user_head_path(settings))
    out = tmp_path / "r" / "eval.json"
    args = ["--data-dir", str(settings.data_dir), "eval", "shots", "--data", str(data / "g.csv")]
    res = CliRunner().invoke(app, [*args, "--json", str(out), "--runtime", "torch"])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_eval_shots_cli_writes_report(tmp_path: Path) -> None:
    out, _ = _eval_cli(tmp_path, ["near_front", "near_back"])
    rep = json.loads(out.read_text())
    for key in (
        "accuracy",
        "macro_f1",
        "per_class",
        "confusion",
        "order_exact_match",
        "kendall_tau",
    ):
        assert key in rep
    assert rep["n_images"] == 4 and rep["n_products"] == 2
    assert rep["classes_not_in_model"] == [] and rep["accuracy_in_model"] == rep["accuracy"]
    assert out.with_name("eval_confusion.png").is_file()


def test_eval_shots_says_which_classes_the_model_lacks(tmp_path: Path) -> None:
    out, printed = _eval_cli(tmp_path, ["near_front", "wash_tag", "size_chart"])
    rep = json.loads(out.read_text())
    assert rep["classes_not_in_model"] == ["size_chart", "wash_tag"]
    assert rep["n_images_not_in_model"] == 4
    tag = rep["per_class"]["wash_tag"]
    assert tag["status"] == "not in model" and tag["recall"] is None and tag["support"] == 2
    assert sum(tag["predicted_as"].values()) == 2
    assert rep["per_class"]["near_front"]["status"] == "in model"
    assert rep["accuracy_in_model"] is not None
    assert "not in model" in printed and "wash_tag" in printed


@pytest.mark.parametrize("name", ["unknown", "Front View", "near-front"])
def test_example_folders_must_be_usable_class_names(tmp_path: Path, name: str) -> None:
    from modiste.errors import ConfigError
    from modiste.gallery.classifier import read_example_folder

    (tmp_path / name).mkdir()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(tmp_path / name / "a.png")
    with pytest.raises(ConfigError, match="lower_snake_case"):
        read_example_folder(tmp_path)


def _gated(embedder: Embedder) -> GatedHead:
    """A gated head: red/blue gallery shots, chart/stripe close-ups on the detail side."""
    spec = FeatureSpec(backbone="timm:test_efficientnet", pooling="avg", size=64, cues=True)
    from modiste.models.cues import CueExtractor

    ims = [_solid((200, 30, 30), i) for i in range(6)] + [
        _solid((30, 30, 200), i) for i in range(6)
    ]
    ims += [_chart(i) for i in range(6)] + [_solid((250, 250, 250), i) for i in range(6)]
    y = ["near_front"] * 6 + ["packshot"] * 6 + ["size_chart"] * 6 + ["material"] * 6
    x = combine(embedder.predict(ims), CueExtractor().predict(ims), spec)
    detail = np.array([v in {"size_chart", "material"} for v in y])
    head = fit_gated(x, x, y, detail, spec)
    head.meta = {**spec.as_meta(), "threshold": 0.5, "gated": True}
    for part, rows in ((head.gallery, ~detail), (head.detail, detail)):
        part.memory_x, part.memory_y = x[rows], np.array(y)[rows]
    return head


def test_gated_head_scores_every_class_and_round_trips(embedder: Embedder, tmp_path: Path) -> None:
    head = _gated(embedder)
    assert head.labels == ["near_front", "packshot", "material", "size_chart"]
    clf = ShotClassifier(head, embedder)
    preds = clf.predict([_solid((200, 30, 30), 40), _chart(9)])
    assert [p.label for p in preds] == ["near_front", "size_chart"]
    assert abs(sum(preds[1].scores.values()) - 1.0) < 1e-3
    path = tmp_path / "shots.npz"
    head.save(path)
    back = load_head(path)
    assert isinstance(back, GatedHead) and back.labels == head.labels
    x = clf.rows([_chart(3), _solid((30, 30, 200), 3)])
    np.testing.assert_allclose(back.proba(x), head.proba(x), atol=2e-3)  # float16 weights


def test_learn_on_a_gated_head_keeps_sides(embedder: Embedder) -> None:
    clf = ShotClassifier(_gated(embedder), embedder)
    clf.learn({"material": [_solid((245, 245, 245), 60 + i) for i in range(3)]})
    head = clf.head
    assert isinstance(head, GatedHead) and head.side_of("material") == "detail"
    assert head.detail.memory_x is not None and len(head.detail.memory_x) == 15
    assert clf.predict([_solid((200, 30, 30), 77)])[0].label == "near_front"
    assert clf.head.meta["few_shot_classes"] == ["material"]


def test_a_head_with_frame_cues_predicts_saves_and_learns(
    embedder: Embedder, clf: ShotClassifier, tmp_path: Path
) -> None:
    """The ``layout_frame`` cue set adds three columns; a ``layout`` head keeps its own width."""
    from modiste.models.cues import CueExtractor

    spec = FeatureSpec(
        backbone="timm:test_efficientnet", pooling="avg", size=64, cues=True,
        cue_set="layout_frame",
    )  # fmt: skip
    ims = [_solid((200, 30, 30), i) for i in range(6)] + [_chart(i) for i in range(6)]
    y = ["material"] * 6 + ["size_chart"] * 6
    x = combine(embedder.predict(ims), CueExtractor(faces=False, frame=True).predict(ims), spec)
    assert n_cues(spec) == 13 and x.shape[1] == embedder.dim + 13
    head = fit_head(x, y, ["material", "size_chart"], boost_last=n_cues(spec))
    head.meta = {**spec.as_meta(), "threshold": 0.5}
    head.memory_x, head.memory_y = x, np.array(y)
    head.save(tmp_path / "frame.npz")
    framed = ShotClassifier(load_head(tmp_path / "frame.npz"), embedder)
    assert [p.label for p in framed.predict([_solid((200, 30, 30), 50), _chart(7)])] == [
        "material",
        "size_chart",
    ]
    framed.learn({"packshot": [_solid((30, 30, 200), 60 + i) for i in range(3)]})
    assert framed.predict([_solid((30, 30, 200), 70)])[0].label == "packshot"
    assert clf.rows(ims[:1]).shape[1] == embedder.dim + 10  # the old layout head


def test_few_new_photos_of_a_known_class_weigh_as_much_as_its_stored_rows() -> None:
    from modiste.gallery.classifier import _repeats

    memory = np.array(["material"] * 60 + ["hem"] * 60)
    assert _repeats(memory, ["material"] * 6).tolist() == [10] * 6
    assert _repeats(memory, ["material"] * 30 + ["logo"] * 2).tolist() == [2] * 30 + [1] * 2


def _with_refine(
    head: GatedHead, embedder: Embedder, below: float, base: bool = False
) -> GatedHead:
    """``head`` plus a refine expert that reads red as packshot and blue as near_front (the
    gallery expert's opposite), so whether a photo went through the refine pass shows; with
    ``base`` its rows are [first pass ‖ larger pass] (here the same embedder twice)."""
    spec = FeatureSpec(backbone="timm:test_efficientnet", pooling="avg", size=64, cues=True)
    from modiste.models.cues import CueExtractor

    ims = [_solid((200, 30, 30), i) for i in range(6)] + [
        _solid((30, 30, 200), i) for i in range(6)
    ]
    f = embedder.predict(ims)
    x = combine(np.hstack([f, f]) if base else f, CueExtractor().predict(ims), spec)
    refine = fit_head(x, ["packshot"] * 6 + ["near_front"] * 6, ["near_front", "packshot"])
    meta = {**head.meta, "refine_size": 64, "refine_below": below, "refine_tta": False}
    if base:
        meta["refine_base"] = True
    return GatedHead(head.gate, head.gallery, head.detail, meta, refine)


def test_the_refine_pass_reads_only_unsure_gallery_photos(
    embedder: Embedder, tmp_path: Path
) -> None:
    red, chart = _solid((200, 30, 30), 41), _chart(5)
    base = ShotClassifier(_gated(embedder), embedder).predict([red, chart])
    assert [p.label for p in base] == ["near_front", "size_chart"]
    # every gallery photo is "unsure" under 1.01: red goes through the refine expert
    everything = _with_refine(_gated(embedder), embedder, below=1.01)
    clf = ShotClassifier(everything, embedder, refine_embedder=embedder)
    got = clf.predict([red, chart])
    assert [p.label for p in got] == ["packshot", "size_chart"]  # the chart stays detail
    assert clf.last_refined == 1
    assert got[1].scores == base[1].scores
    # nothing is under 0.0, and without its embedder the head is read as before
    never = ShotClassifier(
        _with_refine(_gated(embedder), embedder, below=0.0), embedder, refine_embedder=embedder
    )
    assert [p.label for p in never.predict([red])] == ["near_front"]
    assert [p.label for p in ShotClassifier(everything, embedder).predict([red])] == ["near_front"]
    # the file keeps the refine expert and its settings
    everything.save(tmp_path / "refine.npz")
    back = load_head(tmp_path / "refine.npz")
    assert isinstance(back, GatedHead) and back.refine is not None
    assert back.refine_size == 64 and back.refine_below == 1.01
    again = ShotClassifier(back, embedder, refine_embedder=embedder).predict([red])
    assert again[0].label == "packshot"


def test_a_refine_expert_over_both_passes_reads_the_first_pass_beside_the_larger_one(
    embedder: Embedder, tmp_path: Path
) -> None:
    head = _with_refine(_gated(embedder), embedder, below=1.01, base=True)
    assert head.refine is not None and head.refine.mean.shape[0] == 2 * embedder.dim + 10
    head.save(tmp_path / "both.npz")
    back = load_head(tmp_path / "both.npz")
    assert isinstance(back, GatedHead) and back.refine_base
    # with the mirror pass on (it runs on unsure photos and changes their first-pass features)
    for sure in (None, 0.99):
        clf = ShotClassifier(back, embedder, refine_embedder=embedder, mirror_sure=sure)
        got = clf.predict([_solid((200, 30, 30), 41), _solid((30, 30, 200), 42), _chart(5)])
        assert [p.label for p in got] == ["packshot", "near_front", "size_chart"]
        assert clf.last_refined == 2


@pytest.mark.parametrize("base", [False, True])
def test_teaching_a_gallery_class_drops_the_refine_expert(embedder: Embedder, base: bool) -> None:
    head = _with_refine(_gated(embedder), embedder, below=0.9, base=base)
    clf = ShotClassifier(head, embedder, refine_embedder=embedder)
    clf.learn({"material": [_solid((245, 245, 245), 60 + i) for i in range(3)]})
    assert isinstance(clf.head, GatedHead) and clf.head.refine is not None  # detail side only
    assert clf.head.refine_size == 64
    clf.learn({"near_front": [_solid((200, 60, 60), 70 + i) for i in range(3)]})  # gallery side
    assert isinstance(clf.head, GatedHead) and clf.head.refine is None
    assert not [k for k in clf.head.meta if k.startswith("refine_")]
    assert clf.head.refine_size is None
    assert clf.predict([_solid((200, 60, 60), 80)])[0].label == "near_front"
