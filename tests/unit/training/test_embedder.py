"""Embedder training pieces that need no backbone: batches, extra street views, a kept file."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from modiste.domain import Box
from modiste.errors import ConfigError
from modiste.evaluation.retrieval import Item
from modiste.models.crop_embedder import CropEmbedder, CropRecipe, Projection
from modiste.training.embedder import (
    EmbedderTrainConfig,
    FeatureCache,
    _domain_batch,
    train_embedder,
)


class LeftRight:
    """A stand-in backbone: mean red of the left and right halves (a mirror swaps them)."""

    dim = 2
    key = "left-right"
    backbone = SimpleNamespace(name="left-right")

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = []
        for im in images:
            a = np.asarray(im.convert("RGB"), dtype=np.float32)[..., 0]
            half = a.shape[1] // 2
            out.append([a[:, :half].mean(), a[:, half:].mean()])
        return np.asarray(out, dtype=np.float32)


def _embedder() -> CropEmbedder:
    return CropEmbedder(LeftRight(), CropRecipe(crop=False, square=False))  # type: ignore[arg-type]


def _photo(path: Path) -> Path:
    a = np.zeros((40, 40, 3), dtype=np.uint8)
    a[:, :20, 0] = 200  # red on the left only
    Image.fromarray(a).save(path)
    return path


def test_domain_batches_pair_every_class_across_domains() -> None:
    labels = np.repeat(np.arange(5), 40)
    domains = np.tile(np.r_[np.zeros(30), np.ones(10)], 5)  # street crops are the minority
    idx = _domain_batch(labels, domains, 24, np.random.default_rng(0))
    assert len(set(idx.tolist())) == len(idx)
    for c in range(5):
        picked = domains[idx[labels[idx] == c]]
        assert (picked == 0).sum() == 12 and (picked == 1).sum() == 10  # all 10 street crops


def test_street_views_are_mirrored_and_cached_apart(tmp_path: Path) -> None:
    items = [Item(_photo(tmp_path / "a.png"), "top", Box(0, 0, 40, 40))]
    cache = FeatureCache(tmp_path / "cache", _embedder())
    plain, _ = cache.features(items, "street")
    mirrored, _ = cache.features(items, "street", view=(0.1, True))
    assert plain[0, 0] > 100 > plain[0, 1]
    np.testing.assert_allclose(mirrored[0], plain[0, ::-1])
    assert len(list((tmp_path / "cache").glob("*.cnn.npy"))) == 2
    again, _ = cache.features(items, "street", view=(0.1, True))  # read back, not recomputed
    np.testing.assert_array_equal(again, mirrored)


def test_kept_projection_must_hold_out_the_same_styles(tmp_path: Path) -> None:
    with (tmp_path / "gallery.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "style_id", "image_path"])
        for i in range(8):
            w.writerow([f"p{i // 2}", f"s{i // 4}", _photo(tmp_path / f"{i}.png").name])
    kept = Projection(np.eye(2, dtype=np.float32), CropRecipe(), {"trained_groups": ["other"]})
    kept.save(tmp_path / "kept.npz")
    cfg = EmbedderTrainConfig(tmp_path / "gallery.csv", None, keep_projection=tmp_path / "kept.npz")
    with pytest.raises(ConfigError, match="other Magento styles"):
        train_embedder(_embedder(), cfg, tmp_path / "cache")
