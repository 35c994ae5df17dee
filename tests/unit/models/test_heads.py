from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modiste.models.heads import LinearHead, fit_temperature, softmax
from modiste.training.shot_data import FeatureCache, ShotSample
from modiste.training.shots import (
    FeatureSpec,
    cross_validate,
    cross_validate_gated,
    fit_head,
    fold_indices,
    memory_subsample,
)


def _blobs(n: int = 20, d: int = 6, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (n, d)), rng.normal(3, 1, (n, d))]).astype(np.float32)
    return x, ["a"] * n + ["b"] * n


def test_head_roundtrip_keeps_predictions_and_memory(tmp_path: Path) -> None:
    x, y = _blobs()
    head = fit_head(x, y, ["a", "b", "c"])  # "c" has no rows: it must never win
    head.temperature, head.meta = 1.5, {"backbone": "x"}
    head.memory_x, head.memory_y = memory_subsample(x, y, per_class=5)
    assert len(head.memory_y) == 10
    head.save(tmp_path / "h.npz")
    back = LinearHead.load(tmp_path / "h.npz")
    np.testing.assert_allclose(back.proba(x), head.proba(x), atol=1e-2)  # float16 weights
    assert back.meta == {"backbone": "x"} and (back.proba(x)[:, 2] < 1e-6).all()
    assert back.memory_x is not None and back.memory_x.shape == (10, 6)


def test_temperature_recovers_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    true_logits = np.stack([np.zeros(2000), (2 * y - 1) * 1.0 + rng.normal(0, 1, 2000)], 1)
    p = softmax(true_logits)
    y_sampled = (rng.random(2000) < p[:, 1]).astype(int)
    assert 3.0 < fit_temperature(true_logits * 4, y_sampled) < 5.5


def test_grouped_cv_never_splits_a_group() -> None:
    x, y = _blobs(n=15)
    samples = [
        ShotSample(Path(f"{i}.jpg"), lab, f"g{i // 3}", str(i), "t") for i, lab in enumerate(y)
    ]
    oof, labels = cross_validate(samples, x, x, folds=3, flip_aug=True)
    assert labels == ["a", "b"] and oof.shape == (30, 2)
    assert (np.array(labels)[oof.argmax(1)] == np.array(y)).mean() > 0.9


def test_feature_cache_computes_once(tmp_path: Path) -> None:
    calls = []

    def compute(paths: Sequence[Path]) -> np.ndarray:
        calls.append(len(paths))
        return np.ones((len(paths), 2), np.float32)

    cache = FeatureCache(tmp_path)
    paths = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    cache.get("k", paths, compute)
    assert cache.get("k", paths, compute).shape == (2, 2) and calls == [2]


def test_feature_cache_computes_only_new_or_changed_images(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def compute(paths: Sequence[Path]) -> np.ndarray:
        seen.append([p.name for p in paths])
        return np.array([[len(p.read_bytes())] for p in paths], np.float32)

    a, b, c = (tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg"))
    for i, p in enumerate((a, b, c)):
        p.write_bytes(b"x" * (i + 1))
    cache = FeatureCache(tmp_path / "cache")
    cache.get("k", [a, b], compute)
    x = cache.get("k", [c, a, b], compute)  # one new image
    assert seen == [["a.jpg", "b.jpg"], ["c.jpg"]]
    assert x[:, 0].tolist() == [3, 1, 2]
    b.write_bytes(b"y" * 9)  # regenerated in place
    os.utime(b, ns=(1, 1))
    assert cache.get("k", [a, b], compute)[:, 0].tolist() == [1, 9]
    assert seen[-1] == ["b.jpg"]


def test_generated_rows_do_not_move_real_photos_between_folds() -> None:
    real = [
        ShotSample(Path(f"r{i}.jpg"), "ab"[i % 2], f"g{i // 2}", str(i), "m") for i in range(20)
    ]
    extra = [ShotSample(Path(f"e{i}.jpg"), "c", f"g{i}", f"e{i}", "extra") for i in range(6)]
    extra += [ShotSample(Path(f"n{i}.jpg"), "c", f"new{i}", f"n{i}", "extra") for i in range(6)]
    alone = fold_indices(real, 5)
    mixed = fold_indices(real + extra, 5)
    for (_, test_alone), (_, test_mixed) in zip(alone, mixed, strict=True):
        assert set(test_alone) == {i for i in test_mixed if i < 20}
    fold_of = {i: k for k, (_, test) in enumerate(mixed) for i in test}
    for j in range(6):  # a crop cut from a real group's photo sits in that group's fold
        assert fold_of[20 + j] == fold_of[2 * j]


def test_gated_cross_validation_scores_both_sides() -> None:
    rng = np.random.default_rng(0)
    centres = {"a": 0.0, "b": 4.0, "c": 8.0, "d": 12.0}
    samples, rows = [], []
    for i in range(80):
        lab = "abcd"[i % 4]
        src = "extra" if lab in "cd" else "m"
        samples.append(ShotSample(Path(f"{i}.jpg"), lab, f"g{i // 4}", str(i), src))
        rows.append(rng.normal(centres[lab], 1.0, 6))
    x = np.array(rows, np.float32)
    spec = FeatureSpec("x", "avg", 32, cues=False, tta=False)
    proba, labels, temps = cross_validate_gated(samples, x, x, x, spec, folds=4)
    assert labels == ["a", "b", "c", "d"] and len(temps) == 3
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    y = np.array([s.label for s in samples])
    assert (np.array(labels)[proba.argmax(1)] == y).mean() > 0.9
