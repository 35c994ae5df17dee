"""The shipped garment detector: a CenterNet-style head over MobileNetV2.

Why this design: street photos carry about one box per garment class, so a per-class centre
heatmap with a box size and sub-cell offset at each centre is enough. The backbone up to stride 16
stays frozen, so its features are computed once per image and cached; the stride-32 stage (blocks
14-17, optional) is fine-tuned from those cached maps together with the head and stored in the head
file. Coordinate channels let the head learn layout priors (hats high, shoes low).
"""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.domain import Garment
from modiste.errors import ModelError
from modiste.models.garment_boxes import (
    DEFAULT_CLASSES,
    Letterbox,
    letterbox,
    nms_per_class,
    to_garments,
)

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from modiste.config import Settings
    from modiste.models.registry import Backbone

log = logging.getLogger(__name__)
# 1: float16 arrays ("p:" keys); 2: also int8 weight matrices with per-output-channel scales
# ("q:" and "s:" keys). Both load.
FORMAT_VERSION = 2
# MobileNetV2 ``features`` split points: blocks [0, 14) end at stride 16 (96 channels), blocks
# [14, 18) at stride 32 (320 channels). The 1x1 expansion to 1280 is skipped: it is linear in the
# 320-channel map, so a trainable 1x1 in the head covers it at a quarter of the cache size.
SPLITS = {"mobilenet_v2": (14, 18, 96, 320)}
# Where a tuned head may start: any block whose input is already at stride 16.
TUNE_RANGE = {"mobilenet_v2": range(8, 15)}
# The mirror pass (``HeadConfig.tta``) adds 0.047 mAP50 on CCP but costs a second backbone pass.
# Averaging moves a peak by at most half the gap to the mirror's, so a photo whose plain-pass
# peaks all lie below 0.3 or at 0.6 and above (a sure box stays over the 0.3 the catalog keeps
# whatever the mirror says) rarely changes; "unsure" runs the mirror only for the others: CCP
# mAP50 0.5596 against 0.5598, the mirror on 46 % of Magento photos (ingest-and-storage.md).
MIRROR_MODES = ("always", "unsure")
MIRROR_BAND = (0.3, 0.6)


@dataclass(frozen=True)
class HeadConfig:
    """Everything needed to rebuild the head and feed it; stored inside the weights file."""

    classes: tuple[str, ...] = DEFAULT_CLASSES
    backbone: str = "mobilenet_v2"
    input_width: int = 320
    input_height: int = 480
    stride: int = 16
    width: int = 128
    # 0: the backbone is frozen; else blocks [tune_from, 18) are fine-tuned and stored with the
    # head, which then takes the frozen stride-16 map of blocks [0, tune_from).
    tune_from: int = 0
    tta: bool = False  # average the heatmap with the mirrored image's
    per_class: int = 3  # peaks kept per class and image before NMS
    nms_iou: float = 0.6  # class-wise NMS overlap
    members: int = 1  # heads (each with its tuned stage) whose outputs are averaged
    extra: dict[str, Any] = field(default_factory=dict)  # training provenance

    @property
    def grid(self) -> tuple[int, int]:
        """(height, width) of the stride-16 output grid."""
        return self.input_height // self.stride, self.input_width // self.stride


def feature_net(backbone: Backbone, tune_from: int = 0) -> torch.nn.Module:
    """The frozen backbone as a module returning (stride-16 map, stride-32 map or None).

    With ``tune_from`` it stops before that block and returns (its input, None): a head with a
    tuned stage carries its own copy of the rest.
    """
    import torch

    if backbone.name not in SPLITS:
        raise ModelError(
            f"the detector head supports backbones {sorted(SPLITS)}, not {backbone.name}"
        )
    a, b, _, _ = SPLITS[backbone.name]
    blocks = list(backbone.module.children())

    class TwoScales(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.low = torch.nn.Sequential(*blocks[: tune_from or a])
            self.high = torch.nn.Sequential(*blocks[a:b]) if not tune_from else None

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            low = self.low(x)
            return low, (self.high(low) if self.high is not None else None)

    net = TwoScales().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@cache
def _head_class() -> tuple[type, type, type]:
    import torch
    from torch import nn

    def sep(ch: int, dilation: int) -> nn.Module:
        # Depthwise-separable: the head trains on 2 CPU cores in minutes.
        return nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, groups=ch, bias=False),
            nn.Conv2d(ch, ch, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        )

    class CenterHead(nn.Module):
        """(f16, f32) -> heat logits (N,C,H,W), log size and offset (N,C,2,H,W) in cells."""

        def __init__(self, c16: int, c32: int, num_classes: int, width: int) -> None:
            super().__init__()
            self.reduce32 = nn.Sequential(nn.Conv2d(c32, width, 1), nn.ReLU(inplace=True))
            self.reduce16 = nn.Sequential(nn.Conv2d(c16, width // 2, 1), nn.ReLU(inplace=True))
            self.fuse = nn.Sequential(
                nn.Conv2d(width + width // 2 + 2, width, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
            self.body = nn.Sequential(sep(width, 1), sep(width, 2), sep(width, 4), sep(width, 1))
            self.heat = nn.Conv2d(width, num_classes, 1)
            # Per-class size and offset: a top and the coat over it often share a centre cell.
            self.size = nn.Conv2d(width, 2 * num_classes, 1)
            self.offset = nn.Conv2d(width, 2 * num_classes, 1)
            nn.init.constant_(self.heat.bias, -2.19)  # type: ignore[arg-type]  # prior 0.1: stable focal-loss start

        def forward(
            self, f16: torch.Tensor, f32: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            n, _, h, w = f16.shape
            up = nn.functional.interpolate(
                self.reduce32(f32.float()), size=(h, w), mode="bilinear", align_corners=False
            )
            ys = torch.linspace(-1, 1, h, device=f16.device).view(1, 1, h, 1).expand(n, 1, h, w)
            xs = torch.linspace(-1, 1, w, device=f16.device).view(1, 1, 1, w).expand(n, 1, h, w)
            x = self.fuse(torch.cat([self.reduce16(f16.float()), up, xs, ys], dim=1))
            x = self.body(x)
            c = self.heat.out_channels
            return (
                self.heat(x),
                self.size(x).view(n, c, 2, h, w),
                self.offset(x).view(n, c, 2, h, w),
            )

    class DetectorNet(nn.Module):
        """The head plus, when tuned, its own copy of the backbone's last blocks: ``mid`` (up to
        the end of stride 16, may be empty) and ``high`` (the stride-32 stage)."""

        def __init__(self, head: nn.Module, tuned: tuple[nn.Module, nn.Module] | None) -> None:
            super().__init__()
            self.head = head
            self.mid: nn.Module | None = tuned[0] if tuned is not None else None
            self.high: nn.Module | None = tuned[1] if tuned is not None else None

        def forward(
            self, f16: torch.Tensor, f32: torch.Tensor | None = None
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            if self.mid is not None and self.high is not None:
                f16 = self.mid(f16.float())
                f32 = self.high(f16)
            if f32 is None:
                raise ModelError("this detector head needs the stride-32 feature map")
            out: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = self.head(f16, f32)
            return out

    class Ensemble(nn.Module):
        """Several ``DetectorNet`` on the same frozen maps: mean heat probability, mean size
        and offset (members trained from different seeds make different mistakes)."""

        def __init__(self, members: Sequence[nn.Module]) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)

        def forward(
            self, f16: torch.Tensor, f32: torch.Tensor | None = None
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            heats, sizes, offsets = zip(*(m(f16, f32) for m in self.members), strict=True)
            prob = torch.stack([h.sigmoid() for h in heats]).mean(0)
            return (
                torch.logit(prob, eps=1e-6),
                torch.stack(sizes).mean(0),
                torch.stack(offsets).mean(0),
            )

    return CenterHead, DetectorNet, Ensemble


def tuned_stages(
    backbone_name: str, tune_from: int, source: torch.nn.Module | None = None
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Trainable copies of the backbone's blocks [tune_from, 14) and [14, 18): from ``source``
    (the pretrained backbone, for training) or the bare architecture (weights loaded after)."""
    import copy

    import torch

    a, b, _, _ = SPLITS[backbone_name]
    if tune_from not in TUNE_RANGE[backbone_name]:
        raise ModelError(f"tune_from must be in {TUNE_RANGE[backbone_name]}, not {tune_from}")
    if source is None:
        from torchvision.models import mobilenet_v2

        source = mobilenet_v2(weights=None).features
    blocks = [copy.deepcopy(m) for m in list(source.children())[tune_from:b]]
    split = a - tune_from
    return torch.nn.Sequential(*blocks[:split]), torch.nn.Sequential(*blocks[split:])


def build_head(cfg: HeadConfig, backbone: torch.nn.Module | None = None) -> torch.nn.Module:
    """A randomly initialised head for ``cfg`` (its tuned blocks copied from ``backbone``)."""
    if cfg.backbone not in SPLITS:
        raise ModelError(f"the detector head supports backbones {sorted(SPLITS)}")
    _, _, c16, c32 = SPLITS[cfg.backbone]
    head_cls, net_cls, _ = _head_class()

    def member() -> torch.nn.Module:
        tuned = tuned_stages(cfg.backbone, cfg.tune_from, backbone) if cfg.tune_from else None
        net: torch.nn.Module = net_cls(head_cls(c16, c32, len(cfg.classes), cfg.width), tuned)
        return net

    if cfg.members == 1:
        return member()
    return ensemble(member() for _ in range(cfg.members))


def ensemble(members: Iterable[torch.nn.Module]) -> torch.nn.Module:
    """One head averaging the outputs of trained single heads (``HeadConfig.members`` > 1)."""
    module: torch.nn.Module = _head_class()[2](list(members))
    return module


def mirror_average(heat: Any, mirrored_heat: Any) -> Any:
    """Logits of the mean probability of a heatmap and the mirrored image's (flipped back);
    torch tensors (training) or NumPy arrays (inference) alike."""
    if isinstance(heat, np.ndarray):
        prob = (_sigmoid(heat) + _sigmoid(mirrored_heat[..., ::-1])) / 2
        prob = np.clip(prob, 1e-6, 1 - 1e-6)
        return np.log(prob / (1 - prob)).astype(heat.dtype)
    import torch

    prob = (heat.sigmoid() + torch.flip(mirrored_heat, [3]).sigmoid()) / 2
    return torch.logit(prob, eps=1e-6)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=x.dtype)


def _numpy(x: Any) -> np.ndarray:
    """A torch tensor's values as NumPy (training passes tensors); arrays as they are."""
    return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()


def decode(
    heat: Any,
    size: Any,
    offset: Any,
    stride: int,
    min_score: float = 0.3,
    per_class: int = 3,
    iou: float = 0.6,
    content: Sequence[tuple[float, float, float, float]] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Peaks of each class heatmap as boxes (input pixels), scores, labels; one tuple per image.

    A peak is a cell no lower than its 3x3 neighbours; ``per_class`` peaks are kept per class
    (CCP has one instance per class, catalogs may show more), then class-wise NMS. ``content``
    (one x1, y1, x2, y2 per image, input pixels) is where the image lies inside its letterbox:
    cells wholly in the padding cannot be peaks, so they never take a slot from a real one.
    """
    heat, size, offset = _numpy(heat), _numpy(size), _numpy(offset)
    scores, idx = _top_peaks(heat, stride, per_class, content)
    n, c, _, w = heat.shape
    k = scores.shape[2]
    out = []
    for i in range(n):
        sc, ix = scores[i].reshape(-1), idx[i].reshape(-1)
        labels = np.repeat(np.arange(c), k)
        sel = sc >= min_score
        sc, ix, labels = sc[sel], ix[sel], labels[sel]
        gy, gx = (ix // w).astype(np.float32), (ix % w).astype(np.float32)
        off, sz = offset[i].reshape(c, 2, -1), size[i].reshape(c, 2, -1)
        cx = (gx + off[labels, 0, ix]) * stride
        cy = (gy + off[labels, 1, ix]) * stride
        bw = np.exp(sz[labels, 0, ix]) * stride
        bh = np.exp(sz[labels, 1, ix]) * stride
        b = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float64)
        s, lab = sc.astype(np.float64), labels
        keep = nms_per_class(b, s, lab, iou)
        out.append((b[keep], s[keep], lab[keep]))
    return out


def decode_garments(
    heat: Any,
    size: Any,
    offset: Any,
    lbs: Sequence[Letterbox],
    cfg: HeadConfig,
    min_score: float,
) -> list[list[Garment]]:
    """Garments per image, in that image's pixels: :func:`decode` with the decoding of ``cfg``
    (peaks in each letterbox's padding skipped), boxes mapped back through ``lbs``."""
    content = [lb.content() for lb in lbs]
    decoded = decode(heat, size, offset, cfg.stride, min_score, cfg.per_class, cfg.nms_iou, content)
    out = []
    for (boxes, scores, labels), lb in zip(decoded, lbs, strict=True):
        mapped = lb.to_image(boxes) if len(boxes) else boxes
        out.append(to_garments(mapped, scores, labels, cfg.classes))
    return out


def _top_peaks(
    heat: np.ndarray,
    stride: int,
    per_class: int,
    content: Sequence[tuple[float, float, float, float]] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and cell indices (n, c, k) of each class's ``per_class`` highest peaks
    (a cell no lower than its 3x3 neighbours), best first; cells wholly outside ``content``
    are no peaks."""
    peaks = _peaks(_sigmoid(heat), stride, content)
    n, c = peaks.shape[:2]
    flat = peaks.reshape(n, c, -1)
    k = min(per_class, flat.shape[2])
    idx = np.argsort(-flat, axis=2, kind="stable")[:, :, :k]
    return np.take_along_axis(flat, idx, axis=2), idx


def _peaks(
    prob: np.ndarray, stride: int, content: Sequence[tuple[float, float, float, float]] | None
) -> np.ndarray:
    """``prob`` where a cell is a peak (no lower than its 3x3 neighbours, inside its image's
    content rectangle), else 0."""
    h, w = prob.shape[2:]
    padded = np.pad(prob, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    local = np.max([padded[:, :, y : y + h, x : x + w] for y in range(3) for x in range(3)], axis=0)
    peaks = np.where(local == prob, prob, 0).astype(prob.dtype)
    if content is not None:
        x0, y0 = np.arange(w) * stride, np.arange(h) * stride
        for i, (x1, y1, x2, y2) in enumerate(content):
            cols = (x0 + stride > x1) & (x0 < x2)
            rows = (y0 + stride > y1) & (y0 < y2)
            peaks[i] *= rows[:, None] & cols[None, :]
    return peaks


def unsure_images(
    heat: Any,
    cfg: HeadConfig,
    content: Sequence[tuple[float, float, float, float]] | None = None,
    band: tuple[float, float] = MIRROR_BAND,
) -> list[int]:
    """Images with a peak (one that :func:`decode` would consider) inside ``band``: the ones
    whose boxes the mirror pass may change (``MIRROR_BAND``)."""
    scores, _ = _top_peaks(_numpy(heat), cfg.stride, cfg.per_class, content)
    inside = (scores >= band[0]) & (scores < band[1])
    return [i for i in range(len(scores)) if bool(inside[i].any())]


def _quantize(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel (axis 0): (values, float32 scales)."""
    flat = w.reshape(len(w), -1).astype(np.float32)
    scale = np.abs(flat).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale.astype(np.float32)


def _is_backbone_copy(key: str) -> bool:
    """A tuned backbone block's parameter (``mid``/``high``, also inside ensemble members)."""
    parts = key.split(".")
    return "mid" in parts[:3] or "high" in parts[:3]


def save_head(path: Path, head: torch.nn.Module, cfg: HeadConfig) -> None:
    """Write the head plus a JSON config (``.npz``: no pickle to load).

    The tuned backbone blocks' conv weights are stored as int8 per output channel (an error of
    at most 1/254 of each channel's largest weight), everything else (the head itself, batch
    norms, biases) as float16: two members fit in 3 MB instead of 5.3 MB.
    """
    arrays: dict[str, Any] = {}
    for k, v in head.state_dict().items():
        a = v.detach().cpu().numpy()
        if a.dtype.kind == "f" and a.ndim >= 2 and _is_backbone_copy(k):
            arrays[f"q:{k}"], arrays[f"s:{k}"] = _quantize(a)
        else:
            arrays[f"p:{k}"] = a.astype(np.float16) if a.dtype.kind == "f" else a
    meta = dict(asdict(cfg), format_version=FORMAT_VERSION)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(fh, meta=np.array(json.dumps(meta)), **arrays)


def load_config(path: Path) -> HeadConfig:
    """The config stored in a head file written by :func:`save_head` (no weights read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ModelError(f"cannot read detector weights {path}: {e}") from e
    return _config(meta, path)


def _config(meta: dict[str, Any], path: Path) -> HeadConfig:
    if meta.pop("format_version", None) not in (1, FORMAT_VERSION):
        raise ModelError(f"{path}: unsupported detector weights format")
    meta["classes"] = tuple(meta["classes"])
    return HeadConfig(**meta)


def load_head(path: Path) -> tuple[torch.nn.Module, HeadConfig]:
    """Read a head written by :func:`save_head`."""
    import torch

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            state = {k[2:]: torch.from_numpy(data[k].copy()) for k in data.files if k[:2] == "p:"}
            for k in (k for k in data.files if k[:2] == "q:"):
                q, scale = data[k].astype(np.float32), data[f"s:{k[2:]}"]
                state[k[2:]] = torch.from_numpy(q * scale.reshape(-1, *[1] * (q.ndim - 1)))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ModelError(f"cannot read detector weights {path}: {e}") from e
    cfg = _config(meta, path)
    head = build_head(cfg)
    # Files written before the tuned stage existed hold the bare head's keys.
    state = {
        (k if k.startswith(("head.", "mid.", "high.", "members.")) else f"head.{k}"): v
        for k, v in state.items()
    }
    ref = head.state_dict()
    try:
        head.load_state_dict({k: v.to(ref[k].dtype) for k, v in state.items()})
    except (KeyError, RuntimeError) as e:
        raise ModelError(f"{path}: weights do not match the head's config: {e}") from e
    return head.eval(), cfg


def preprocess(
    images: Sequence[Image.Image], cfg: HeadConfig, mean: Sequence[float], std: Sequence[float]
) -> tuple[np.ndarray, list[Any]]:
    """Letterbox to the head's input size (padding with the mean colour, i.e. zero after
    normalisation) and normalise; returns the batch and each image's letterbox."""
    fill = tuple(round(m * 255) for m in mean)
    batch = np.empty((len(images), 3, cfg.input_height, cfg.input_width), dtype=np.float32)
    boxes = []
    m = np.asarray(mean, dtype=np.float32)[:, None, None]
    s = np.asarray(std, dtype=np.float32)[:, None, None]
    for i, im in enumerate(images):
        canvas, lb = letterbox(im, cfg.input_width, cfg.input_height, fill)  # type: ignore[arg-type]
        batch[i] = (np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1) / 255.0 - m) / s
        boxes.append(lb)
    return batch, boxes


class CenterNetDetector:
    """Frozen backbone + trained head; ``predict`` returns garments in image pixels.

    ``runtime="onnx"`` (default) exports backbone and head as one graph and runs it with ONNX
    Runtime, about 3x faster than PyTorch eager on CPU; the export is cached under ``onnx_dir``
    keyed by the head file and backbone weights. ``"torch"`` runs the modules. A head trained
    with ``tta`` gets its mirror pass on every photo with ``mirror="always"`` (inside the same
    graph; the default here, the recipe the head was scored with), or a second pass only for the
    photos :func:`unsure_images` picks with ``"unsure"`` (``Settings.detector_mirror``'s default).
    """

    def __init__(
        self,
        head: torch.nn.Module | Path,
        cfg: HeadConfig,
        backbone: Backbone,
        *,
        min_score: float = 0.3,
        batch_size: int = 8,
        runtime: str = "onnx",
        onnx_dir: Path | None = None,
        key: str | None = None,
        threads: int | None = None,
        mirror: str = "always",
        precision: str = "f32",
        lanes: int = 1,
    ) -> None:
        if runtime not in ("onnx", "torch"):
            raise ModelError(f"detector runtime must be 'onnx' or 'torch', not {runtime!r}")
        if mirror not in MIRROR_MODES:
            raise ModelError(f"detector mirror must be one of {MIRROR_MODES}, not {mirror!r}")
        # the mirror pass, when the head has one: inside the graph, or a second pass when unsure
        self.in_graph_mirror = cfg.tta and mirror == "always"
        self.mirror_when_unsure = cfg.tta and mirror == "unsure"
        self.mirror_band = MIRROR_BAND
        self.mirror_passes = 0  # images sent through the second (mirror) pass since made
        self.cfg, self.backbone = cfg, backbone
        # a head file is read (and the torch modules built) only if they are run or exported:
        # with the ONNX export cached, detection never imports torch
        self._head = head if isinstance(head, Path) else head.eval()
        self._features: torch.nn.Module | None = None
        self.classes = cfg.classes
        self.min_score, self.batch_size = min_score, batch_size
        self.runtime, self.onnx_dir, self.key, self.threads = runtime, onnx_dir, key, threads
        # float32 (ONNX Runtime) or bfloat16 (OpenVINO) and the callers at once, for cpu_session
        self.precision, self.lanes = precision, max(1, lanes)
        self._net: torch.nn.Module | None = None
        self._session: Any = None
        self._lock = threading.Lock()  # the session is made once, whatever thread asks first

    @classmethod
    def load(cls, path: Path, settings: Settings, **kw: Any) -> CenterNetDetector:
        """Load a head file and the backbone it was trained on (weights resolved offline)."""
        import hashlib

        from modiste.models.registry import create_backbone

        cfg = load_config(path)
        backbone = create_backbone(
            cfg.backbone, pretrained=True, weights_dirs=(settings.model_dir,)
        )
        if backbone.weights_sha256:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            kw.setdefault("key", f"detector-{digest[:16]}-{backbone.weights_sha256[:16]}")
        kw.setdefault("onnx_dir", settings.cache_dir / "onnx")
        kw.setdefault("threads", getattr(settings, "inference_threads", None))
        kw.setdefault("mirror", getattr(settings, "detector_mirror", "unsure"))
        kw.setdefault("precision", getattr(settings, "inference_precision", "f32"))
        return cls(path, cfg, backbone, **kw)

    @property
    def head(self) -> torch.nn.Module:
        """The head modules (read from the file on first use)."""
        if isinstance(self._head, Path):
            self._head, _ = load_head(self._head)
        return self._head

    @property
    def features(self) -> torch.nn.Module:
        """The frozen backbone part (built on first use)."""
        if self._features is None:
            self._features = feature_net(self.backbone, self.cfg.tune_from)
        return self._features

    def _torch_net(self) -> torch.nn.Module:
        if self._net is None:
            self._net = _inference_net(self.features, self.head, self.in_graph_mirror)
        return self._net

    def _onnx_session(self) -> Any:
        with self._lock:
            return self._session or self._open_session()

    def _open_session(self) -> Any:
        if self._session is None:
            from modiste.models.onnx_runtime import cached_export, cpu_session, export_onnx

            # the graph without the mirror pass of a ``tta`` head is another file
            name = f"{self.key}-plain" if self.mirror_when_unsure else self.key
            path = self.onnx_dir / f"{name}.onnx" if self.onnx_dir and self.key else None
            shape = (1, 3, self.cfg.input_height, self.cfg.input_width)
            data = cached_export(
                path, lambda: export_onnx(self._torch_net(), shape, ["heat", "size", "offset"])
            )
            self._session = cpu_session(
                data, self.threads, "the detector", self.precision, streams=self.lanes
            )
        return self._session

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.runtime == "onnx":
            try:
                heat, size, offset = self._onnx_session().run(None, {"images": batch})
                return heat, size, offset
            except ModelError as e:
                log.warning("detector falls back to PyTorch: %s", e)
                self.runtime = "torch"
        import torch

        with torch.inference_mode():
            out = self._torch_net()(torch.from_numpy(batch))
            return out[0].numpy(), out[1].numpy(), out[2].numpy()

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]:
        """Garments per image, in that image's pixels, best first."""
        out: list[list[Garment]] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch, lbs = preprocess(chunk, self.cfg, self.backbone.cfg.mean, self.backbone.cfg.std)
            heat, size, offset = self._forward(batch)
            if self.mirror_when_unsure:
                heat = self._mirror_unsure(batch, heat, lbs)
            out.extend(decode_garments(heat, size, offset, lbs, self.cfg, self.min_score))
        return out

    def _mirror_unsure(
        self, batch: np.ndarray, heat: np.ndarray, lbs: Sequence[Letterbox]
    ) -> np.ndarray:
        """``heat`` with the mirror pass averaged in for the images it may change (as the
        in-graph pass does: size and offset stay the plain pass's)."""
        redo = unsure_images(heat, self.cfg, [lb.content() for lb in lbs], self.mirror_band)
        self.mirror_passes += len(redo)
        if not redo:
            return heat
        mirrored, _, _ = self._forward(np.ascontiguousarray(batch[redo, :, :, ::-1]))
        heat = heat.copy()
        heat[redo] = mirror_average(heat[redo], mirrored)
        return heat


def _inference_net(features: torch.nn.Module, head: torch.nn.Module, tta: bool) -> torch.nn.Module:
    """Images -> (heat logits, size, offset), the mirror pass averaged in when ``tta``."""
    import torch

    class Inference(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features, self.head = features, head

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            heat, size, offset = self.head(*self.features(x))
            if tta:
                mirrored, _, _ = self.head(*self.features(torch.flip(x, [3])))
                heat = mirror_average(heat, mirrored)
            return heat, size, offset

    return Inference().eval()
