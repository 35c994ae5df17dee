"""The Ray engine: a stage's compute on Ray Data workers, its writes in this process.

``modiste ingest --engine ray`` runs every stage that has a :class:`Compute` part (shots, dedupe
fingerprints, embed: decode, detection, crops, vectors) as Ray Data ``map_batches`` over the
pending images, on a pool of actors that each load the models once. The results come back to the
driver batch by batch and go through the stage's own ``write`` (the same code the local engine
runs), then the runner records the outcomes: a killed run loses at most the batches in flight,
and the next run, with either engine, picks up what has no outcome. Other stages (store, care,
categorize, order) run here as in the local engine.

Workers read originals from the image store themselves (only ids and hashes are shipped), so on
several machines the store must be shared: the S3 backend, or one folder mounted at the same
path. Results (crop JPEGs, vectors, fingerprints) travel back pickled, as one binary column.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Iterator, Sequence
from typing import Any

from modiste.config import Settings
from modiste.errors import ConfigError
from modiste.pipeline.stages import Outcome, Rows, Stage, StageContext

log = logging.getLogger(__name__)
# Chunks whose input rows are read (and whose Ray dataset is built) at once: bounds the driver's
# memory on a catalog of millions. Each window starts its own actor pool, so the models are loaded
# once per actor per window (2,048 images at the default chunk): a few seconds in minutes of work.
WINDOW_CHUNKS = 64


def _pack(rows: Rows) -> Any:
    import numpy as np

    packed = np.empty(len(rows), dtype=object)
    packed[:] = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in rows]
    return packed


def _unpack(column: Any) -> Rows:
    # Our own rows, made by our own workers in this run: not untrusted input.
    return [pickle.loads(bytes(b)) for b in column]


class StageWorker:
    """A Ray actor: one stage's models, loaded once, over batches of packed rows."""

    def __init__(self, settings: Settings, stage_name: str, threads: int) -> None:
        # Each actor gets a share of the machine's cores: ONNX Runtime reads this when its
        # sessions are made (all cores per actor would oversubscribe the CPUs).
        os.environ["MODISTE_INFERENCE_THREADS"] = str(max(1, threads))
        from modiste.pipeline.stages import get_stages

        stage = get_stages([stage_name])[0]
        assert stage.compute is not None
        self.compute = stage.compute
        self.models = stage.compute.load(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"row": _pack(self.compute.run(self.models, _unpack(batch["row"])))}


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _connect(settings: Settings) -> Any:
    """``ray`` connected to ``settings.ray_address`` (None: a local instance on this machine)."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError(
            "the Ray engine needs Ray: pip install 'modiste[ray]' (or use --engine local)"
        ) from e
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own progress
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def run_stage(
    ctx: StageContext, stage: Stage, image_ids: Sequence[int], chunk: int
) -> Iterator[tuple[int, dict[int, Outcome]]]:
    """Run ``stage`` over ``image_ids`` on Ray; yields (images handled, outcomes) per batch,
    each batch already written through the stage's ``write``."""
    compute = stage.compute
    assert compute is not None
    ray = _connect(ctx.settings)
    settings = ctx.settings.model_copy(update={"data_dir": ctx.settings.resolved_data_dir})
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = max(1, min(ctx.settings.ray_actors or cpus, cpus))
    threads = max(1, cpus // workers)
    window = chunk * WINDOW_CHUNKS
    for start in range(0, len(image_ids), window):
        part = image_ids[start : start + window]
        rows: Rows = []
        for i in range(0, len(part), chunk):
            found, decided = compute.inputs(ctx, part[i : i + chunk])
            rows += found
            if decided:
                yield len(decided), decided
        if not rows:
            continue
        dataset = ray.data.from_items([{"row": r} for r in _pack(rows)]).map_batches(
            StageWorker,
            fn_constructor_args=(settings, stage.name, threads),
            batch_size=chunk,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads,
        )
        for batch in dataset.iter_batches(batch_size=chunk, batch_format="numpy"):
            results = _unpack(batch["row"])
            started = time.perf_counter()
            outcomes = compute.write(ctx, results)
            # The driver's share: what caps throughput however many workers compute.
            report = ctx.reports.setdefault("ray", {})
            assert isinstance(report, dict)
            seen = report.setdefault(stage.name, {"images": 0, "write_s": 0.0})
            seen["images"] += len(results)
            seen["write_s"] = round(seen["write_s"] + time.perf_counter() - started, 3)
            yield len(results), outcomes
