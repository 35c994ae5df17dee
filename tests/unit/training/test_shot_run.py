"""``train shots`` cross-validation: several grouped splits, each reported, with mean and spread."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modiste.config import Settings
from modiste.training.shot_run import split_summary, train_shots
from modiste.training.shots import FeatureSpec, n_cues


def _report(mag_acc: float, order: float, all_acc: float) -> dict:
    return {
        "magento": {"accuracy": mag_acc, "order_exact_match": order, "kendall_tau": order},
        "all": {"accuracy": all_acc, "macro_f1": all_acc},
    }


def test_split_summary_gives_each_split_and_their_mean_and_spread() -> None:
    got = split_summary([(0, _report(0.96, 0.90, 0.98)), (1, _report(0.98, 0.94, 0.99))])
    assert [r["seed"] for r in got["per_split"]] == [0, 1]
    assert got["per_split"][1]["magento_accuracy"] == 0.98
    assert got["mean"]["magento_accuracy"] == pytest.approx(0.97)
    assert got["mean"]["magento_order_exact"] == pytest.approx(0.92)
    assert got["sd"]["magento_accuracy"] == pytest.approx(np.std([0.96, 0.98], ddof=1))


def _tiny_datasets(root: Path) -> Path:
    """Magento-like galleries (8 styles, front light / back dark), 4 street and 4 flat photos."""
    rng = np.random.default_rng(0)

    def photo(path: Path, level: int) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = np.clip(level + rng.normal(0, 20, (96, 72, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(path)
        return path.name

    lines = ["product_id,style_id,image_path,shot,category"]
    for style in range(8):
        for shot, level in (("near_front", 220), ("near_back", 40)):
            name = photo(root / "magento_luma" / "images" / f"s{style}-{shot}.jpg", level)
            lines.append(f"p{style},s{style},images/{name},{shot},tops")
    (root / "magento_luma" / "gallery.csv").write_text("\n".join(lines) + "\n")
    ccp = ["image_id,image_path"] + [
        f"{i},images/{photo(root / 'ccp_street' / 'images' / f'{i}.jpg', 120)}" for i in range(4)
    ]
    (root / "ccp_street" / "images.csv").write_text("\n".join(ccp) + "\n")
    flat = ["image_path,label,kids,sender_id"] + [
        f"images/{photo(root / 'clothing_dataset' / 'images' / f'f{i}.jpg', 160)},T-Shirt,False,{i}"
        for i in range(4)
    ]
    (root / "clothing_dataset" / "labels.csv").write_text("\n".join(flat) + "\n")
    return root


def _generated(gen: Path) -> Path:
    """Generated-style rows: "fabric" (noise filling the frame) and "chart" (dark rows on white)."""
    rng = np.random.default_rng(1)
    (gen / "images").mkdir(parents=True)
    rows = ["product_id,image_path,shot,style_id"]
    for i in range(8):
        arr = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        if i % 2:
            arr[:] = 250
            arr[::8] = 0
        shot = "size_chart" if i % 2 else "material"
        Image.fromarray(arr).save(gen / "images" / f"m{i}.jpg")
        rows.append(f"g{i},images/m{i}.jpg,{shot},generated-{i}")
    (gen / "gallery.csv").write_text("\n".join(rows) + "\n")
    return gen


def test_train_shots_reports_every_split_and_keeps_the_first_as_the_report(
    tmp_path: Path,
) -> None:
    data = _tiny_datasets(tmp_path / "datasets")
    settings = Settings(data_dir=tmp_path / "d")
    spec = FeatureSpec(size=64, cue_set="layout")
    kw = {"folds": 2, "n_flat": 4, "n_far": 4, "cache_dir": tmp_path / "cache"}
    one, _ = train_shots(settings, data, spec, cv_seeds=(0,), **kw)
    three, _ = train_shots(settings, data, spec, cv_seeds=(0, 1, 2), **kw)
    assert "splits" not in one
    splits = three["splits"]["per_split"]
    assert [s["seed"] for s in splits] == [0, 1, 2]
    # the report itself is the first split's, exactly as a one-split run gives it
    assert three["magento"]["accuracy"] == one["magento"]["accuracy"]
    assert splits[0]["magento_accuracy"] == one["magento"]["accuracy"]
    assert three["splits"]["mean"]["all_accuracy"] == pytest.approx(
        np.mean([s["all_accuracy"] for s in splits])
    )
    assert "split seed 0" in three["protocol"]


def test_a_refine_expert_is_trained_scored_and_shipped_with_the_gated_head(
    tmp_path: Path,
) -> None:
    from modiste.errors import ConfigError
    from modiste.gallery.classifier import create_shot_classifier, user_head_path
    from modiste.models.heads import GatedHead, load_head

    data = _tiny_datasets(tmp_path / "datasets")
    gen = _generated(tmp_path / "generated")
    settings = Settings(data_dir=tmp_path / "d")
    spec = FeatureSpec(size=64, cue_set="layout", tta=True)
    kw = {"folds": 2, "n_flat": 4, "n_far": 4, "cache_dir": tmp_path / "cache"}
    with pytest.raises(ConfigError, match="gated"):
        train_shots(settings, data, spec, refine_size=96, **kw)
    out = user_head_path(settings)
    refine = {"extra": (gen / "gallery.csv",), "refine_size": 96, "refine_tta": False, "out": out}
    rep, head = train_shots(settings, data, spec, **refine, **kw)
    assert len(rep["temperature"]) == 4  # gate, gallery, detail, refine
    assert isinstance(head, GatedHead) and head.refine is not None
    assert head.refine.labels == head.gallery.labels
    back = load_head(out)
    assert isinstance(back, GatedHead) and back.refine_size == 96 and not back.refine_tta
    clf = create_shot_classifier(settings)
    assert clf.refine_embedder is not None and clf.refine_embedder.cfg.image_size == 96
    assert not clf.refine_embedder.flip
    photos = [
        Image.open(p).convert("RGB")
        for p in sorted((data / "magento_luma" / "images").glob("*.jpg"))[:3]
    ]
    assert len(clf.predict(photos)) == 3
    # the refine expert reading the first pass beside the larger one: wider rows, same use
    _, both = train_shots(settings, data, spec, refine_base=True, **refine, **kw)
    assert isinstance(both, GatedHead) and both.refine is not None and both.refine_base
    pooled = head.gallery.mean.shape[0] - n_cues(spec)
    assert both.refine.mean.shape[0] == head.refine.mean.shape[0] + pooled
    clf = create_shot_classifier(settings)
    assert isinstance(clf.head, GatedHead) and clf.head.refine_base
    clf.head = replace(clf.head, meta={**clf.head.meta, "refine_below": 1.01})  # read them all
    assert len(clf.predict(photos)) == 3 and clf.last_refined > 0


def test_the_refine_pass_can_read_with_another_backbone(tmp_path: Path) -> None:
    """The shipped head's refine pass is EfficientNet-Lite0 (its weights ship in a package):
    trained on those features, stored in the head, and read with them at prediction."""
    from modiste.gallery.classifier import create_shot_classifier, user_head_path
    from modiste.models.heads import GatedHead

    data = _tiny_datasets(tmp_path / "datasets")
    gen = _generated(tmp_path / "generated")
    settings = Settings(data_dir=tmp_path / "d")
    spec = FeatureSpec(size=64, cue_set="layout", tta=True)
    _, head = train_shots(
        settings,
        data,
        spec,
        folds=2,
        n_flat=4,
        n_far=4,
        extra=(gen / "gallery.csv",),
        refine_size=96,
        refine_base=True,
        refine_backbone="efficientnet_lite0",
        out=user_head_path(settings),
    )
    assert isinstance(head, GatedHead) and head.refine is not None
    assert head.refine_backbone == "efficientnet_lite0"
    pooled = head.gallery.mean.shape[0] - n_cues(spec)  # MobileNetV2 avg||max: 2 x 1280
    assert head.refine.mean.shape[0] == pooled + 2 * 1280 + n_cues(spec)  # + EfficientNet's
    clf = create_shot_classifier(settings)
    assert clf.refine_embedder is not None
    assert clf.refine_embedder.backbone.name == "efficientnet_lite0"
    assert clf.refine_embedder.cfg.image_size == 96 and clf.refine_embedder.flip
    clf.head = replace(clf.head, meta={**clf.head.meta, "refine_below": 1.01})  # read them all
    photos = [
        Image.open(p).convert("RGB")
        for p in sorted((data / "magento_luma" / "images").glob("*.jpg"))[:3]
    ]
    assert len(clf.predict(photos)) == 3 and clf.last_refined > 0
