"""bfloat16 on OpenVINO against float32 on ONNX Runtime: the same graphs, speed and answers.

Usage::

    flock /tmp/modiste-heavy.lock python -m benchmarks.precision_bench \\
        --json benchmarks/results/precision_bench.json      # ~10 min
    python -m benchmarks.precision_bench --n 4 --repeats 2   # a smoke run

``Settings.inference_precision`` runs the garment detector in bfloat16 where OpenVINO and a CPU
with native bfloat16 are there (``models/onnx_runtime.py``); the shot classifier and the crop
vectors could, and stay float32 for what this script found. It measures what bfloat16 changes,
in one process, the two precisions alternating:

- **Speed**, per graph (the detector's plain graph, the shot backbone, the shot head's refine
  backbone, the crop backbone): milliseconds per photo on inputs of a photo's shape (seeded
  noise: the arithmetic does not depend on the pixels), one call at a time over every core (a
  query) and in one-thread lanes on every core (the ingest), as the median of ``--repeats``
  alternating rounds; the ratio is what counts on a shared box.
- **Answers** on seeded samples of every photo set in ``../shared/datasets``: shot labels
  identical (and the largest change of the top probability), and garments matched by label at
  IoU >= 0.5 (and the mean IoU of the matched boxes). Detection mAP50 and retrieval figures come
  from ``modiste eval detect`` / ``eval retrieval`` with ``MODISTE_INFERENCE_PRECISION=f32`` and
  ``bf16`` (``docs/decisions/ingest-and-storage.md``, step 11).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import DATASETS
from benchmarks.output import work_dir, write_result

# (set, its CSV, the CSV's image-path column)
SETS: tuple[tuple[str, str, str], ...] = (
    ("magento_luma", "gallery.csv", "image_path"),
    ("tags_fabrics", "gallery.csv", "image_path"),
    ("clothing_dataset", "labels.csv", "image_path"),
    ("fashion_products", "products.csv", "image_path"),
    ("ccp_street", "images.csv", "image_path"),
)


def sample_paths(name: str, csv_name: str, column: str, n: int, seed: int) -> list[Path]:
    """``n`` seeded photos of one set that exist on disk (fewer when the set has fewer)."""
    root = DATASETS / name
    with (root / csv_name).open(newline="", encoding="utf-8") as fh:
        paths = sorted({r[column] for r in csv.DictReader(fh) if r.get(column)})
    random.Random(seed).shuffle(paths)
    found = [root / p for p in paths if (root / p).is_file()]
    return found[:n]


def _settings(work: Path, precision: str) -> Any:
    from modiste.config import Settings

    return Settings(data_dir=work, inference_precision=precision)


def answers(photos: dict[str, list[Path]], work: Path) -> dict[str, dict[str, Any]]:
    """Shot predictions and garments of every photo with the models of each precision
    (``{"f32": {set: ...}, "bf16": {set: ...}}``), each set's photos decoded once for both."""
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.imaging import decode_image
    from modiste.models.detector import create_detector

    models = {}
    for precision in ("f32", "bf16"):
        settings = _settings(work, precision)
        # the classifier is float32 unless asked; the detector takes the setting
        models[precision] = (
            create_shot_classifier(settings, precision=precision),
            create_detector(settings),
        )
    out: dict[str, dict[str, Any]] = {precision: {} for precision in models}
    for name, paths in photos.items():
        images = [decode_image(p, draft_size=1024).image for p in paths]
        for precision, (classifier, detector) in models.items():
            out[precision][name] = {
                "shots": classifier.predict(images),
                "garments": detector.predict(images),  # in its own batches
            }
    return out


def compare(f32: dict[str, Any], bf16: dict[str, Any]) -> dict[str, Any]:
    """Per set: shot labels identical, top-probability change, garments matched by label and
    IoU >= 0.5 (greedy, best IoU first) and their mean IoU."""
    report: dict[str, Any] = {}
    for name in f32:
        a_shots, b_shots = f32[name]["shots"], bf16[name]["shots"]
        same = sum(a.label == b.label for a, b in zip(a_shots, b_shots, strict=True))
        moved = max(
            (abs(a.confidence - b.confidence) for a, b in zip(a_shots, b_shots, strict=True)),
            default=0,
        )
        n_a = n_b = matched = 0
        ious: list[float] = []
        for ga, gb in zip(f32[name]["garments"], bf16[name]["garments"], strict=True):
            n_a, n_b = n_a + len(ga), n_b + len(gb)
            pairs = sorted(
                ((a.box.iou(b.box), i, j) for i, a in enumerate(ga) for j, b in enumerate(gb)
                 if a.label == b.label),
                reverse=True,
            )  # fmt: skip
            used_a: set[int] = set()
            used_b: set[int] = set()
            for iou, i, j in pairs:
                if iou >= 0.5 and i not in used_a and j not in used_b:
                    used_a.add(i)
                    used_b.add(j)
                    ious.append(iou)
            matched += len(used_a)
        report[name] = {
            "photos": len(a_shots),
            "shot_labels_identical": round(same / max(1, len(a_shots)), 4),
            "shot_labels_changed": len(a_shots) - same,
            "top_probability_max_change": round(float(moved), 4),
            "garments_f32": n_a,
            "garments_bf16": n_b,
            "garments_matched": matched,
            "matched_iou_mean": round(float(np.mean(ious)), 4) if ious else None,
        }
    return report


Maker = Callable[[str, int | None, int], Any]  # (precision, threads, streams) -> session


def _maker(path: Path, what: str) -> Maker:
    from modiste.models.onnx_runtime import cpu_session

    def make(precision: str, threads: int | None, streams: int) -> Any:
        return cpu_session(str(path), threads, what, precision, streams=streams)

    return make


def _graphs(work: Path) -> dict[str, tuple[Maker, tuple[int, ...]]]:
    """The graphs the models run, each as (session maker, one photo's input shape)."""
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.models.detector import create_detector

    settings = _settings(work, "f32")
    classifier = create_shot_classifier(settings)
    detector = create_detector(settings)
    crop = create_crop_embedder(settings)
    graphs: dict[str, tuple[Maker, tuple[int, ...]]] = {}
    embedders = {"shot backbone": classifier.embedder, "crop backbone": crop.features}
    refine = getattr(classifier, "refine_embedder", None)
    if refine is not None:
        embedders["shot refine backbone"] = refine
    for what, emb in embedders.items():
        emb.prepare()  # exports the graph into the data folder's cache
        size = emb.cfg.image_size
        graphs[what] = (
            _maker(settings.cache_dir / "onnx" / f"{emb.key}.onnx", what),
            (3, size, size),
        )
    det: Any = detector
    det._onnx_session()  # exported under the data folder's cache
    name = f"{det.key}-plain" if det.mirror_when_unsure else det.key
    graphs["detector"] = (
        _maker(det.onnx_dir / f"{name}.onnx", "the detector"),
        (3, det.cfg.input_height, det.cfg.input_width),
    )
    return graphs


def speed(work: Path, photos: int, repeats: int, lanes: int) -> dict[str, Any]:
    """Milliseconds per photo for every graph, f32 and bf16 alternating, as a query (one call
    of one photo over every core) and as the ingest (``lanes`` one-thread callers)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    report: dict[str, Any] = {}
    for what, (make, shape) in _graphs(work).items():
        batches = [rng.standard_normal((1, *shape)).astype(np.float32) for _ in range(photos)]
        runs: dict[str, dict[str, list[float]]] = {}
        sessions = {
            (p, mode): make(p, None if mode == "query" else 1, 1 if mode == "query" else lanes)
            for p in ("f32", "bf16")
            for mode in ("query", "ingest")
        }
        for _ in range(repeats):
            for (p, mode), session in sessions.items():
                call = lambda x, s=session: s.run(None, {"images": x})  # noqa: E731
                call(batches[0])  # warm
                t0 = time.perf_counter()
                if mode == "query":
                    for x in batches:
                        call(x)
                else:
                    with ThreadPoolExecutor(lanes) as pool:
                        list(pool.map(call, batches))
                ms = (time.perf_counter() - t0) * 1000 / len(batches)
                runs.setdefault(mode, {}).setdefault(p, []).append(ms)
        report[what] = {
            mode: {
                "f32_ms": round(statistics.median(by["f32"]), 1),
                "bf16_ms": round(statistics.median(by["bf16"]), 1),
                "speedup": round(
                    statistics.median(a / b for a, b in zip(by["f32"], by["bf16"], strict=True)), 2
                ),
            }
            for mode, by in runs.items()
        }
    return report


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=342, help="photos per set (Magento has 342)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--timing-photos", type=int, default=24, help="photos per timing round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="data folder for the exports (default: temp)")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    from modiste.models.onnx_runtime import default_threads, native_bf16

    if not native_bf16():
        raise SystemExit(
            "no bfloat16 here: needs OpenVINO (pip install 'modiste[openvino]') and a CPU "
            "with AVX512-BF16 or AMX"
        )
    photos = {
        name: sample_paths(name, csv_name, column, args.n, args.seed)
        for name, csv_name, column in SETS
        if (DATASETS / name / csv_name).is_file()
    }

    def run(work: Path) -> dict[str, Any]:
        timing = speed(work, args.timing_photos, args.repeats, default_threads())
        both = answers(photos, work)
        return {
            "speed": timing,
            "agreement": compare(both["f32"], both["bf16"]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}",
        }

    with work_dir(args.work, "modiste-precision-") as work:
        result = run(work)
    text = json.dumps(result, indent=1)
    print(text)
    write_result(args.json, text)
    return result


if __name__ == "__main__":
    main()
