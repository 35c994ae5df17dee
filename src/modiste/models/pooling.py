"""Pooling of a feature map into one vector, chosen by measurement (docs/decisions).

Built as torch modules so that pooling (and flip averaging) is part of the exported ONNX graph.
"""

from __future__ import annotations

from typing import Any

from modiste.errors import ModelError

POOLINGS = ("avg", "max", "gem", "avgmax", "avgmax_bands")
BANDS = 3  # horizontal bands for avgmax_bands: where things are matters for shot types


def pooled_dim(pooling: str, channels: int) -> int:
    """Length of the pooled vector for a map with ``channels`` channels."""
    return {"avgmax": 2, "avgmax_bands": 2 + BANDS}.get(pooling, 1) * channels


def make_pool(pooling: str, gem_p: float = 3.0) -> Any:
    """A module mapping (N, C, H, W) to (N, pooled_dim(pooling, C))."""
    import torch

    if pooling not in POOLINGS:
        raise ModelError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")

    class Pool(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.ndim == 2:  # already pooled (CLIP towers)
                return x
            if pooling == "avg":
                return x.mean(dim=(2, 3))
            if pooling == "max":
                return x.amax(dim=(2, 3))
            if pooling == "gem":
                return x.clamp(min=1e-6).pow(gem_p).mean(dim=(2, 3)).pow(1.0 / gem_p)
            parts = [x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]
            if pooling == "avgmax_bands":
                # Top / middle / bottom thirds (rows split as evenly as the map allows).
                # int(): the exported graph fixes the map size (only the batch axis is dynamic).
                h = int(x.shape[2])
                for i in range(BANDS):  # never empty, even for maps shorter than BANDS rows
                    a = i * h // BANDS
                    b = max(a + 1, (i + 1) * h // BANDS)
                    parts.append(x[:, :, a:b].mean(dim=(2, 3)))
            return torch.cat(parts, dim=1)

    return Pool()


def make_feature_net(module: Any, pooling: str, flip: bool = False) -> Any:
    """Backbone + pooling (+ horizontal-flip averaging) as one module, ready for ONNX export."""
    import torch

    pool = make_pool(pooling)

    class FeatureNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = module
            self.pool = pool

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.pool(self.backbone(x))
            if flip:
                y = 0.5 * (y + self.pool(self.backbone(torch.flip(x, dims=[3]))))
            return y

    return FeatureNet().eval()
