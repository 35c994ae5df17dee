"""The stage registry: each ingest stage is a named function over a chunk of images.

A stage receives the ids of images that still need it and returns an outcome per id. The
runner records outcomes in ``image_stages`` and commits after every chunk, which is what makes
ingest resumable: a killed run loses at most the chunk in flight, and the next run picks up the
images with no recorded outcome. Stages must be idempotent (running one twice on an image
changes nothing the second time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modiste.config import Settings
from modiste.errors import ConfigError

# Modules that define built-in stages; imported on first use, not at package import.
BUILTIN_STAGE_MODULES: list[str] = [
    "modiste.pipeline.store_stage",
    "modiste.gallery.stage",
    "modiste.cleaning.stage",
    "modiste.cleaning.enrich_stage",
    "modiste.search.colour_stage",
    "modiste.search.stage",
    "modiste.compliance.stage",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # "done" | "failed" | "skipped"
    error: str | None = None

    @staticmethod
    def done() -> Outcome:
        return Outcome("done")

    @staticmethod
    def failed(reason: str) -> Outcome:
        return Outcome("failed", reason)

    @staticmethod
    def skipped(reason: str) -> Outcome:
        return Outcome("skipped", reason)


@dataclass
class StageContext:
    """What a stage may use. Stages build heavy things (models) once via ``cache``."""

    settings: Settings
    db: object  # modiste.catalog.db.Database (typed loosely: no import cycle)
    store: object  # modiste.imaging.store.ImageStore
    cache: dict[str, object] = field(default_factory=dict)
    reports: dict[str, object] = field(default_factory=dict)  # per-stage results for the caller
    # "local" (this process, batched across images), "ray" (compute stages on a Ray cluster) or
    # "legacy" (the per-image code the batched one replaced, kept for benchmarks/ingest_bench.py)
    engine: str = "local"


StageFn = Callable[[StageContext, Sequence[int]], dict[int, Outcome]]
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Compute:
    """A stage split into its pure compute (models over pixels) and its catalog writes.

    The local engine runs ``inputs``, ``run`` and ``write`` in turn on each chunk; the Ray engine
    runs ``run`` on workers (Ray Data ``map_batches``, models built once per worker by
    ``load``) and ``write`` in the driver, so both engines write through the same code.
    ``run`` takes and returns plain rows (ids, hashes, bytes, numbers): they cross processes.
    """

    load: Callable[[Settings], object]  # models and the image store, once per worker
    inputs: Callable[[StageContext, Sequence[int]], tuple[Rows, dict[int, Outcome]]]
    run: Callable[[object, Rows], Rows]
    write: Callable[[StageContext, Rows], dict[int, Outcome]]


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    run: StageFn
    description: str = ""
    after: tuple[str, ...] = ()  # stages that must be "done" for an image first
    chunk_size: int | None = None
    setup: Callable[[StageContext], None] | None = None  # load models once per run
    teardown: Callable[[StageContext], None] | None = None
    product_level: Callable[[StageContext], None] | None = None  # runs after all chunks
    # runs before the runner picks the images that need the stage (it may un-record outcomes)
    prepare: Callable[[StageContext], None] | None = None
    compute: Compute | None = None  # what a distributed engine may run elsewhere


_STAGES: dict[str, Stage] = {}
_loaded = False


def register_stage(
    name: str,
    *,
    order: int,
    description: str = "",
    after: Sequence[str] = (),
    chunk_size: int | None = None,
    setup: Callable[[StageContext], None] | None = None,
    teardown: Callable[[StageContext], None] | None = None,
    product_level: Callable[[StageContext], None] | None = None,
    prepare: Callable[[StageContext], None] | None = None,
    compute: Compute | None = None,
) -> Callable[[StageFn], StageFn]:
    def deco(fn: StageFn) -> StageFn:
        _STAGES[name] = Stage(
            name=name,
            order=order,
            run=fn,
            description=description or (fn.__doc__ or "").strip().split("\n", 1)[0],
            after=tuple(after),
            chunk_size=chunk_size,
            setup=setup,
            teardown=teardown,
            product_level=product_level,
            prepare=prepare,
            compute=compute,
        )
        return fn

    return deco


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_STAGE_MODULES:
            importlib.import_module(module)
        _loaded = True


def available_stages() -> list[Stage]:
    _load_builtins()
    return sorted(_STAGES.values(), key=lambda s: s.order)


def get_stages(names: Sequence[str] | None = None) -> list[Stage]:
    stages = available_stages()
    if not names:
        return stages
    known = {s.name: s for s in stages}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    return [known[n] for n in sorted(names, key=lambda n: known[n].order)]
