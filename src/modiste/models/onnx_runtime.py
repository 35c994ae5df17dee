"""ONNX Runtime plumbing shared by the embedder, the shipped detector and YOLO detectors:
thread count, CPU sessions, TorchScript export, and an export cache written atomically."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modiste.errors import ModelError

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Threads for ONNX Runtime: ``MODISTE_INFERENCE_THREADS`` or the cores we may use."""
    env = os.environ.get("MODISTE_INFERENCE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ingest_lanes(settings: Any, engine: str = "local") -> int:
    """Photos a batch job runs through a model at once: ``Settings.ingest_lanes``, else one
    per inference thread (:func:`default_threads`); one for the ``legacy`` engine
    (``benchmarks/ingest_bench.py``'s reference, which ran one call at a time).

    Each lane is one thread calling a one-thread session, instead of one call at a time
    spread over every core: on 2 cores the detector ran 1.35x and the shot backbone 1.25x
    faster so (``docs/decisions/ingest-and-storage.md``, step 5). Queries keep one call over
    all cores, which answers a single photo sooner.
    """
    if engine == "legacy":
        return 1
    n = int(getattr(settings, "ingest_lanes", 0) or 0)
    return max(1, n or default_threads())


def lane_map(fn: Callable[[Any], Any], items: Sequence[Any], lanes: int) -> list[Any]:
    """``[fn(x) for x in items]``, ``lanes`` at a time in threads (ONNX Runtime, PIL and NumPy
    release the GIL); in order, and in the calling thread when one lane will do."""
    if lanes <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(lanes, len(items)), thread_name_prefix="lane") as pool:
        return list(pool.map(fn, items))


def cpu_session(model: bytes | str, threads: int | None, what: str) -> Any:
    """An ONNX Runtime CPU session for ``model`` (bytes or a path); ``what`` names it in errors."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: on a box whose cores are shared (the ingest's
    # decode and cue threads, the API, other processes) spinning burnt 70 % more CPU per detector
    # pass (171 vs 100 ms) and made it slower, not faster (docs/decisions/ingest-and-storage.md).
    # MODISTE_INFERENCE_SPIN=1 spins as before (a dedicated box; ingest_bench's legacy engine).
    spin = os.environ.get("MODISTE_INFERENCE_SPIN") == "1"
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    try:
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types
        raise ModelError(f"ONNX Runtime could not load {what}: {e}") from e


def export_onnx(net: Any, input_shape: Sequence[int], output_names: Sequence[str]) -> bytes:
    """Export ``net`` (input ``images`` of ``input_shape``) with a dynamic batch axis."""
    import torch

    buf = io.BytesIO()
    dummy = torch.zeros(*input_shape)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                net,
                (dummy,),
                buf,  # type: ignore[arg-type]  # file objects are accepted at run time
                input_names=["images"],
                output_names=list(output_names),
                dynamic_axes={n: {0: "batch"} for n in ["images", *output_names]},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript
            )
    except Exception as e:
        raise ModelError(f"ONNX export failed: {e}") from e
    return buf.getvalue()


def cached_export(path: Path | None, make: Callable[[], bytes]) -> bytes:
    """The model bytes at ``path`` if there, else ``make()`` written there atomically (so that
    concurrent workers never read half a file); ``path=None`` never caches."""
    if path is not None and path.is_file():
        return path.read_bytes()
    data = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        log.info("exported %s", path)
    return data
