from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modiste.errors import ModelError
from modiste.models.registry import create_backbone, list_backbones, register_backbone
from modiste.models.resolver import resolve_weights
from modiste.models.weights import MOBILENET_V2_IMAGENET, PretrainedCfg


def test_unknown_backbone_lists_valid_names() -> None:
    with pytest.raises(ModelError) as e:
        create_backbone("resnet9000")
    assert "mobilenet_v2" in str(e.value) and "efficientnet_lite0" in str(e.value)


def test_duplicate_registration_refused() -> None:
    list_backbones()
    with pytest.raises(ModelError):
        register_backbone("mobilenet_v2")(lambda **kw: None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0", "timm:test_efficientnet"])
def test_random_backbones_give_feature_maps(name: str) -> None:
    bb = create_backbone(name, pretrained=False)
    with torch.no_grad():
        out = bb.module(torch.zeros(1, 3, 64, 64))
    assert out.ndim == 4 and out.shape[1] == bb.cfg.num_features
    assert bb.weights_sha256 is None


def test_open_clip_tiny_random_tower(monkeypatch: pytest.MonkeyPatch) -> None:
    import open_clip

    cfg = {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 32,
            "patch_size": 16,
            "head_width": 16,
        },
        "text_cfg": {"context_length": 8, "vocab_size": 100, "width": 32, "heads": 2, "layers": 1},
    }
    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, "modiste-tiny", cfg)
    bb = create_backbone("open_clip:modiste-tiny", pretrained=False)
    assert bb.pooled and bb.cfg.image_size == 32
    with torch.no_grad():
        assert bb.module(torch.zeros(2, 3, 32, 32)).shape == (2, 32)
    with pytest.raises(ModelError, match="name the weights"):
        create_backbone("open_clip:modiste-tiny", pretrained=True)


def test_shipped_mobilenet_weights_resolve_from_package() -> None:
    path = resolve_weights(MOBILENET_V2_IMAGENET)
    assert path.name == "mobilenet_v2-b0353104.pth"


def test_cache_copy_with_wrong_sha_is_ignored(tmp_path: Path) -> None:
    cfg = PretrainedCfg("x", filename="w.pth", sha256="0" * 64)
    (tmp_path / "w.pth").write_bytes(b"not the weights")
    with pytest.raises(ModelError, match="downloads are disabled"):
        resolve_weights(cfg, [tmp_path])


def test_cache_dir_wins_when_sha_matches(tmp_path: Path) -> None:
    import hashlib

    data = b"weights"
    cfg = PretrainedCfg("x", filename="w.pth", sha256=hashlib.sha256(data).hexdigest())
    (tmp_path / "w.pth").write_bytes(data)
    assert resolve_weights(cfg, [tmp_path]) == tmp_path / "w.pth"


def test_cfg_with_size_keeps_normalisation() -> None:
    cfg = MOBILENET_V2_IMAGENET.with_size(288)
    assert cfg.image_size == 288 and cfg.mean == MOBILENET_V2_IMAGENET.mean
