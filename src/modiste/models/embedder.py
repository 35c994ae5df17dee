"""Image → vector: the backbone's preprocessing, pooling, and a fast ONNX Runtime path.

PyTorch stays the training path; inference exports the pooled feature network to ONNX once
(cached by backbone, weights sha, input size, pooling and flip) and runs it with ONNX Runtime.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.errors import ModelError
from modiste.imaging import decode_image
from modiste.models.onnx_runtime import (
    cached_export,
    cpu_session,
    default_threads,
    export_onnx,
    lane_map,
)
from modiste.models.pooling import make_feature_net, pooled_dim
from modiste.models.registry import Backbone, create_backbone
from modiste.models.weights import PretrainedCfg

if TYPE_CHECKING:
    from PIL import Image

    from modiste.config import Settings

log = logging.getLogger(__name__)
RUNTIMES = ("onnx", "torch")


def preprocess(images: Sequence[Image.Image], cfg: PretrainedCfg) -> np.ndarray:
    """Resize whole images (no crop: framing is the signal for shot types) and normalise.

    Returns:
        float32 array (N, 3, H, W).
    """
    from PIL import Image as PILImage

    size = cfg.image_size
    resample = {
        "bilinear": PILImage.Resampling.BILINEAR,
        "bicubic": PILImage.Resampling.BICUBIC,
        "nearest": PILImage.Resampling.NEAREST,
    }.get(cfg.interpolation, PILImage.Resampling.BILINEAR)
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    mean = np.asarray(cfg.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(cfg.std, dtype=np.float32)[:, None, None]
    for i, im in enumerate(images):
        im = im.convert("RGB") if im.mode != "RGB" else im
        arr = np.asarray(im.resize((size, size), resample), dtype=np.float32) / 255.0
        out[i] = (arr.transpose(2, 0, 1) - mean) / std
    return out


class Embedder:
    """Pooled backbone features for PIL images, with the same result from either runtime."""

    def __init__(
        self,
        backbone: Backbone,
        pooling: str = "avgmax",
        flip: bool = False,
        runtime: str = "onnx",
        onnx_dir: Path | None = None,
        threads: int | None = None,
        batch_size: int = 16,
        lanes: int = 1,
        size: int | None = None,
        precision: str = "f32",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ModelError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        self.backbone = backbone
        # ``size``: the input side when a head was trained at another than the backbone's own
        self.cfg = backbone.cfg if size is None else backbone.cfg.with_size(size)
        self.pooling = pooling
        self.flip = flip
        self.runtime = runtime
        self.onnx_dir = onnx_dir
        # ``lanes`` batches at once, each on a one-thread session (ingest; see ingest_lanes)
        self.lanes = max(1, lanes)
        self.threads = threads or (1 if self.lanes > 1 else default_threads())
        self.batch_size = batch_size
        # ONNX Runtime float32, or OpenVINO bfloat16 (onnx_runtime.cpu_session): the same graph
        self.precision = precision
        self._net: Any = None
        self._session: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, backbone: str | None = None, **kw: Any) -> Embedder:
        """Build the configured backbone (weights from DATA_DIR/models first) and its embedder."""
        bb = create_backbone(backbone or settings.backbone, weights_dirs=[settings.model_dir])
        kw.setdefault("onnx_dir", settings.cache_dir / "onnx")
        # ``inference_threads`` is optional on Settings; None falls back to default_threads().
        kw.setdefault("threads", getattr(settings, "inference_threads", None))
        return cls(bb, **kw)

    @property
    def dim(self) -> int:
        """Length of the vectors :meth:`predict` returns."""
        if self.backbone.pooled:
            return self.cfg.num_features
        return pooled_dim(self.pooling, self.cfg.num_features)

    @property
    def key(self) -> str:
        """Cache key of the exported graph: what changes the numbers changes the key."""
        sha = (self.backbone.weights_sha256 or "random")[:16]
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.backbone.name)
        flip = "-flip" if self.flip else ""
        return f"{safe}-{sha}-{self.cfg.image_size}-{self.pooling}{flip}"

    def predict(self, images: Sequence[Image.Image], mirrored: bool = False) -> np.ndarray:
        """Feature vectors (N, dim), float32, in input order; ``mirrored``: of each image
        flipped left to right after preprocessing (as a ``flip`` graph's second pass)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        lanes = self.lanes if self.runtime == "onnx" else 1
        size = min(self.batch_size, -(-len(images) // lanes))  # every lane gets a batch
        if lanes > 1:
            self._onnx_session()  # made once, before the lanes share it

        def run(chunk: Sequence[Image.Image]) -> np.ndarray:
            batch = preprocess(chunk, self.cfg)
            return self._run(np.ascontiguousarray(batch[..., ::-1]) if mirrored else batch)

        return np.concatenate(lane_map(run, list(_chunks(images, size)), lanes), axis=0)

    def predict_paths(
        self, paths: Sequence[str | Path], draft_size: int | None = None
    ) -> np.ndarray:
        """Decode (safely, with fast JPEG draft downscaling) and embed image files."""
        draft = draft_size or self.cfg.image_size * 2
        return self.predict([decode_image(p, draft_size=draft).image for p in paths])

    # -- runtimes ---------------------------------------------------------------------------------

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self.runtime == "torch":
            import torch

            with torch.inference_mode():
                out = self._torch_net()(torch.from_numpy(batch))
            return np.asarray(out.numpy(), dtype=np.float32)
        session = self._onnx_session()
        return np.asarray(session.run(None, {"images": batch})[0], dtype=np.float32)

    def _torch_net(self) -> Any:
        if self._net is None:
            self._net = make_feature_net(self.backbone.module, self.pooling, self.flip)
        return self._net

    def prepare(self) -> None:
        """Export (first use of a data folder) and open the ONNX session now, so a long run does
        not stall on it at the first batch that needs this embedder."""
        if self.runtime == "onnx":
            self._onnx_session()

    def _onnx_session(self) -> Any:
        with self._lock:
            return self._session or self._open_session()

    def _open_session(self) -> Any:
        if self._session is None:
            cacheable = self.onnx_dir is not None and self.backbone.weights_sha256 is not None
            path = self.onnx_dir / f"{self.key}.onnx" if cacheable and self.onnx_dir else None
            size = self.cfg.image_size
            data = cached_export(
                path, lambda: export_onnx(self._torch_net(), (1, 3, size, size), ["features"])
            )
            self._session = cpu_session(
                data, self.threads, self.key, self.precision, streams=self.lanes
            )
        return self._session


def _chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
