"""What the ingest lock and the leftovers sweep add to every ingest, on a large image store.

Usage::

    python -m benchmarks.ingest_sweep --n 20000 --json benchmarks/results/ingest_sweep.json

A content store of ``--n`` tiny files (content-addressed folders, as ingest writes them) and an
empty migrated catalog are built in a temp folder. Timed, best of ``--repeat``:

- ``deep_s``: :func:`modiste.pipeline.leftovers.sweep_leftovers` walking every folder, what an
  ingest pays after a killed one (and what every ingest would pay if it always walked);
- ``shallow_s``: the sweep after a clean run (the image store is not walked);
- ``noop_ingest_s``: a whole ``run_ingest`` with nothing to do: lock, sweep, stage queries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.output import write_result
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.imaging.store import ImageStore, sha256_bytes
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.leftovers import sweep_leftovers


def build(settings: Settings, n: int) -> None:
    store = ImageStore(settings.images_dir)
    for i in range(n):
        data = i.to_bytes(8, "little")
        path = store.path_for(sha256_bytes(data))  # not store.put: no fsync per file here
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run(n: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="modiste-sweep-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        build(settings, n)
        db = Database(settings)
        db.migrate()
        folders = sum(1 for _ in os.walk(settings.images_dir))
        deep = best(lambda: sweep_leftovers(settings, deep=True), repeat)
        shallow = best(lambda: sweep_leftovers(settings, deep=False), repeat)
        run_ingest(settings, db, stages=["store"])  # the lock now says "finished"
        noop = best(lambda: run_ingest(settings, db, stages=["store"]), repeat)
        db.dispose()
    return {
        "images": n,
        "store_folders": folders,
        "deep_s": round(deep, 3),
        "shallow_s": round(shallow, 4),
        "noop_ingest_s": round(noop, 3),
        "repeat": repeat,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=20000, help="files in the image store")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    result = run(args.n, args.repeat)
    print(json.dumps(result, indent=1))
    write_result(args.json, json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
