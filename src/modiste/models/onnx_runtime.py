"""ONNX Runtime plumbing shared by the embedder, the shipped detector and YOLO detectors:
thread count, CPU sessions, TorchScript export, and an export cache written atomically.

A session runs the exported graph in float32 with ONNX Runtime, or in bfloat16 with OpenVINO
(the ``openvino`` extra) on a CPU that computes bfloat16 natively (AVX512-BF16 or AMX): the
same graph file, the detector 1.7-1.8x faster here, with the accuracy cost measured in
``docs/decisions/ingest-and-storage.md`` (step 11). ``Settings.inference_precision`` picks it
for the detector; shot labels and crop vectors stay float32.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import cache
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


PRECISIONS = ("auto", "f32", "bf16")


@cache
def _openvino_core() -> Any:
    import openvino as ov

    return ov.Core()  # one per process: each Core loads its own plugins


@cache
def native_bf16() -> bool:
    """True when OpenVINO is installed and this CPU computes bfloat16 itself (AVX512-BF16 or
    AMX); without it OpenVINO would emulate bfloat16 and run slower than ONNX Runtime."""
    try:
        return "BF16" in _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except ImportError:
        return False
    except Exception as e:  # a broken install (missing libraries, no CPU plugin): ONNX Runtime
        log.warning("OpenVINO cannot read the CPU's capabilities (%s); using float32", e)
        return False


def resolve_precision(precision: str) -> str:
    """``"f32"`` or ``"bf16"`` for a requested ``precision``: ``"auto"`` is bf16 where
    :func:`native_bf16` holds; ``"bf16"`` where it does not falls back to f32 with a warning."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown inference precision {precision!r}; valid: {PRECISIONS}")
    if precision == "f32":
        return "f32"
    if native_bf16():
        return "bf16"
    if precision == "bf16":
        log.warning(
            "bfloat16 inference needs OpenVINO (pip install 'modiste[openvino]') and a CPU "
            "with AVX512-BF16 or AMX; running float32 with ONNX Runtime"
        )
    return "f32"


class OpenVinoSession:
    """The exported graph compiled by OpenVINO in bfloat16, called as an ONNX Runtime session
    is (``run(None, {"images": batch})`` returns the outputs in graph order, float32).

    ``streams`` threads may call :meth:`run` at once (the ingest's lanes): each gets its own
    infer request, and the compiled model runs one stream of ``threads`` threads per caller.
    """

    def __init__(self, model: bytes | str, threads: int, streams: int, what: str) -> None:
        core = _openvino_core()
        try:
            net = core.read_model(model)
            self._model = core.compile_model(
                net,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16",
                    "NUM_STREAMS": streams,
                    "INFERENCE_NUM_THREADS": threads * streams,
                    "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
                },
            )
        except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own
            raise ModelError(f"OpenVINO could not load {what}: {e}") from e
        log.info("%s runs in bfloat16 on OpenVINO (%d stream(s))", what, streams)
        self._outputs = list(self._model.outputs)
        self._names = [o.get_any_name() for o in self._outputs]
        self._local = threading.local()

    def run(self, output_names: Sequence[str] | None, feed: dict[str, Any]) -> list[Any]:
        """Outputs for ``feed`` (one input), as ``onnxruntime.InferenceSession.run``."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._model.create_infer_request()
        (batch,) = feed.values()
        result = request.infer({0: batch})  # copies the outputs out of the request's buffers
        outputs = [result[o] for o in self._outputs]
        if not output_names:
            return outputs
        by_name = dict(zip(self._names, outputs, strict=True))
        return [by_name[n] for n in output_names]


def cpu_session(
    model: bytes | str,
    threads: int | None,
    what: str,
    precision: str = "f32",
    streams: int = 1,
) -> Any:
    """A CPU session for ``model`` (bytes or a path); ``what`` names it in errors.

    ``precision`` (:data:`PRECISIONS`): float32 on ONNX Runtime, or bfloat16 on OpenVINO
    (:class:`OpenVinoSession`, ``streams`` callers at once). The ONNX Runtime session is
    shared by however many threads call it.
    """
    if resolve_precision(precision) == "bf16":
        return OpenVinoSession(model, threads or default_threads(), max(1, streams), what)
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
