from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from modiste.errors import ModelError
from modiste.models.embedder import Embedder, preprocess
from modiste.models.pooling import make_pool, pooled_dim
from modiste.models.registry import create_backbone


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(64)
    return bb


def _images(n: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (40 + 10 * i, 50, 3), dtype=np.uint8))
        for i in range(n)
    ]


def test_preprocess_reads_cfg(tiny) -> None:
    x = preprocess(_images(2), tiny.cfg)
    assert x.shape == (2, 3, 64, 64) and x.dtype == np.float32


@pytest.mark.parametrize("pooling", ["avg", "max", "gem", "avgmax", "avgmax_bands"])
def test_pool_shapes(pooling: str) -> None:
    x = torch.rand(2, 8, 3, 3)
    assert make_pool(pooling)(x).shape == (2, pooled_dim(pooling, 8))


def test_gem_between_avg_and_max() -> None:
    x = torch.rand(1, 4, 5, 5)
    g, a, m = (make_pool(p)(x) for p in ("gem", "avg", "max"))
    assert torch.all(g >= a - 1e-6) and torch.all(g <= m + 1e-6)


@pytest.mark.parametrize("pooling", ["avgmax", "avgmax_bands"])
def test_onnx_matches_torch_and_is_cached(tiny, tmp_path: Path, pooling: str) -> None:
    tiny.weights_sha256 = "f" * 64  # pretend pretrained, so the export is cached
    try:
        ims = _images()
        ref = Embedder(tiny, pooling=pooling, flip=True, runtime="torch").predict(ims)
        fast = Embedder(
            tiny, pooling=pooling, flip=True, runtime="onnx", onnx_dir=tmp_path, threads=1
        )
        out = fast.predict(ims)
        assert out.shape == (3, fast.dim)
        np.testing.assert_allclose(out, ref, atol=1e-4)
        assert (tmp_path / f"{fast.key}.onnx").is_file()
    finally:
        tiny.weights_sha256 = None


def test_flip_tta_is_mirror_invariant(tiny) -> None:
    from PIL import ImageOps

    emb = Embedder(tiny, pooling="avg", flip=True, runtime="torch")
    im = _images(1)[0]
    np.testing.assert_allclose(emb.predict([im]), emb.predict([ImageOps.mirror(im)]), atol=1e-5)


def test_empty_input_and_bad_runtime(tiny) -> None:
    assert Embedder(tiny, runtime="torch").predict([]).shape == (
        0,
        pooled_dim("avgmax", tiny.cfg.num_features),
    )
    with pytest.raises(ModelError):
        Embedder(tiny, runtime="tensorflow")
