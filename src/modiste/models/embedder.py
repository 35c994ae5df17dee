"""Image → vector: the backbone's preprocessing, pooling, and a fast ONNX Runtime path.

PyTorch stays the training path; inference exports the pooled feature network to ONNX once
(cached by backbone, weights sha, input size, pooling and flip) and runs it with ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.errors import ModelError
from modiste.imaging import decode_image
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


def default_threads() -> int:
    """Threads for ONNX Runtime: ``MODISTE_INFERENCE_THREADS`` or the cores we may use."""
    env = os.environ.get("MODISTE_INFERENCE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    ) -> None:
        if runtime not in RUNTIMES:
            raise ModelError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        self.backbone = backbone
        self.cfg = backbone.cfg
        self.pooling = pooling
        self.flip = flip
        self.runtime = runtime
        self.onnx_dir = onnx_dir
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self._net: Any = None
        self._session: Any = None

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

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Feature vectors (N, dim), float32, in input order."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._run(preprocess(chunk, self.cfg)) for chunk in _chunks(images, self.batch_size)
        ]
        return np.concatenate(parts, axis=0)

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

    def _onnx_bytes(self) -> bytes:
        path = self.onnx_dir / f"{self.key}.onnx" if self.onnx_dir else None
        cacheable = path is not None and self.backbone.weights_sha256 is not None
        if cacheable and path is not None and path.is_file():
            return path.read_bytes()
        data = export_onnx(self._torch_net(), self.cfg.image_size)
        if cacheable and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic: concurrent workers never read half a file
            log.info("exported %s (%s)", path, hashlib.sha256(data).hexdigest()[:12])
        return data

    def _onnx_session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            try:
                self._session = ort.InferenceSession(
                    self._onnx_bytes(), opts, providers=["CPUExecutionProvider"]
                )
            except Exception as e:  # ORT raises its own exception types
                raise ModelError(f"ONNX Runtime could not load {self.key}: {e}") from e
        return self._session


def export_onnx(net: Any, size: int) -> bytes:
    """Export a feature network with a dynamic batch axis; returns the model bytes."""
    import torch

    buf = io.BytesIO()
    dummy = torch.zeros(1, 3, size, size)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                net,
                (dummy,),
                buf,  # type: ignore[arg-type]  # file objects are accepted at run time
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript
            )
    except Exception as e:
        raise ModelError(f"ONNX export failed: {e}") from e
    return buf.getvalue()


def _chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
