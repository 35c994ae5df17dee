"""Backbone registry: ``@register_backbone(name)`` and ``create_backbone(name, ...)``.

Hub backbones use a prefix (``open_clip:ViT-B-32``, ``timm:resnet18``): the part after the colon
is passed to the hub library, so they need no registration per model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modiste.errors import ModelError
from modiste.models.weights import PretrainedCfg

if TYPE_CHECKING:
    import torch

BackboneFactory = Callable[..., "Backbone"]

_REGISTRY: dict[str, BackboneFactory] = {}
_PREFIXES: dict[str, BackboneFactory] = {}


class Backbone:
    """A feature extractor and the config its inputs and weights follow.

    ``module`` maps a normalised NCHW float batch to either a feature map (N, C, H, W), which the
    caller pools, or an already pooled embedding (N, C) (CLIP-style models). A built-in backbone
    passes ``build`` instead: the module (and torch) is made on first use, so a model whose ONNX
    export is cached runs without importing torch at all.
    """

    def __init__(
        self,
        name: str,
        module: torch.nn.Module | None,
        cfg: PretrainedCfg,
        weights_sha256: str | None = None,  # of the file actually loaded; None: random weights
        build: Callable[[], torch.nn.Module] | None = None,
    ) -> None:
        if module is None and build is None:
            raise ModelError(f"backbone {name!r}: give a module or a function that builds it")
        self.name, self.cfg, self.weights_sha256 = name, cfg, weights_sha256
        self._module, self._build = module, build

    @property
    def module(self) -> torch.nn.Module:
        if self._module is None:
            assert self._build is not None
            self._module = self._build()
        return self._module

    @property
    def pooled(self) -> bool:
        """True when the module already returns one vector per image."""
        return self.cfg.extra.get("pooled") == "1"


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Register a backbone factory under ``name``; a name ending with ':' registers a prefix."""

    def deco(fn: BackboneFactory) -> BackboneFactory:
        table = _PREFIXES if name.endswith(":") else _REGISTRY
        key = name.rstrip(":")
        if key in table:
            raise ModelError(f"backbone {name!r} registered twice")
        table[key] = fn
        return fn

    return deco


def list_backbones() -> list[str]:
    """Registered names, prefixes shown as ``prefix:<name>``."""
    _ensure_builtins()
    return sorted(_REGISTRY) + [f"{p}:<name>" for p in sorted(_PREFIXES)]


def create_backbone(name: str, pretrained: bool = True, **kwargs: Any) -> Backbone:
    """Build a backbone by name.

    Args:
        name: A registered name or ``prefix:model``.
        pretrained: Load weights (resolved locally; see :mod:`modiste.models.resolver`).
        **kwargs: Passed to the factory (e.g. ``weights_dirs``, ``allow_download``).

    Raises:
        ModelError: Unknown name (the message lists valid names) or weights that cannot be had.
    """
    _ensure_builtins()
    if ":" in name:
        prefix, _, model = name.partition(":")
        if prefix in _PREFIXES and model:
            return _PREFIXES[prefix](model, pretrained=pretrained, **kwargs)
    elif name in _REGISTRY:
        return _REGISTRY[name](pretrained=pretrained, **kwargs)
    raise ModelError(f"unknown backbone {name!r}; valid: {', '.join(list_backbones())}")


def _ensure_builtins() -> None:
    # Importing the module runs its @register_backbone decorators; done lazily so that importing
    # the registry costs nothing.
    from modiste.models import backbones  # noqa: F401
