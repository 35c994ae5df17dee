from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modiste.models.heads import LinearHead, fit_temperature, softmax
from modiste.training.shot_data import FeatureCache, ShotSample
from modiste.training.shots import cross_validate, fit_head, memory_subsample


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
