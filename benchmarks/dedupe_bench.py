"""Near-duplicate benchmark: Modiste's finder against imagededup's hashes, in one run.

Usage (sets from ``benchmarks.make_dedupe_set``; seed 1 tunes, seed 0 reports)::

    python -m benchmarks.dedupe_bench \\
        --tune /tmp/modiste-cache/dedupe_set_s1/dups.csv \\
        --test /tmp/modiste-cache/dedupe_set/dups.csv --json /tmp/modiste-cache/dedupe_bench.json

Every method's threshold is chosen on ``--tune`` (best pairwise F1 of the merged groups), then
frozen and run on ``--test``. imagededup also gets its *oracle* threshold (best on the test set
itself), the generous figure the issue quotes. Speed: single process, fingerprint/encode plus
search, best of ``--repeats`` runs, seconds per 1000 images; both tools in the same process.
Only imagededup's hashing methods run (its CNN would download weights).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from modiste.cleaning.dedupe import DedupeConfig, DedupeItem, DuplicateFinder
from modiste.evaluation.dedupe import (
    Pair,
    closure,
    fingerprint_all,
    pairwise_scores,
    read_groups_csv,
    true_pairs,
)

HASHES = ("PHash", "DHash", "WHash", "AHash")
MAX_HAMMING = 16


def _best(
    scored: dict[Pair, float], truth: set[Pair], thresholds: list[float], higher: bool
) -> tuple[float, dict[str, Any]]:
    """Threshold with the best grouped F1 over ``scored`` pairs (score >= t, or <= t)."""
    best_t, best_s = thresholds[0], {"f1": -1.0}
    for t in thresholds:
        pairs = {p for p, s in scored.items() if (s >= t if higher else s <= t)}
        s = pairwise_scores(closure(pairs), truth)
        if s["f1"] > best_s["f1"]:
            best_t, best_s = t, s
    return best_t, best_s


# -- Modiste --------------------------------------------------------------------------------
def modiste_scores(csv_path: Path, config: DedupeConfig) -> dict[Pair, float]:
    """Verified pair scores at a permissive ``accept`` (so any stricter one can be swept)."""
    rows = read_groups_csv(csv_path)
    fps = fingerprint_all([p for p, _ in rows])
    finder = DuplicateFinder(replace(config, accept=0.7))
    finder.add(DedupeItem(id=p, fingerprint=fp) for p, fp in fps.items())
    return {tuple(sorted((m.a, m.b))): m.score for m in finder.matches()}  # type: ignore[misc]


def modiste_run(csv_path: Path, config: DedupeConfig) -> tuple[set[Pair], float]:
    """Full timed run: fingerprint, index, group. Returns (direct pairs, seconds)."""
    rows = read_groups_csv(csv_path)
    t0 = time.perf_counter()
    fps = fingerprint_all([p for p, _ in rows])
    finder = DuplicateFinder(config)
    finder.add(DedupeItem(id=p, fingerprint=fp) for p, fp in fps.items())
    finder.groups()
    seconds = time.perf_counter() - t0
    return {tuple(sorted((m.a, m.b))) for m in finder.matches()}, seconds  # type: ignore[misc]


# -- imagededup -----------------------------------------------------------------------------
def _method(name: str) -> Any:
    import warnings

    import imagededup.methods as m

    # it warns that worker counts are unused when encodings are passed in: they are, on purpose
    warnings.filterwarnings("ignore", message="Parameter num_enc_workers", category=RuntimeWarning)
    for logger_name in list(logging.root.manager.loggerDict):
        if logger_name.startswith("imagededup"):
            logging.getLogger(logger_name).setLevel(logging.WARNING)
    return getattr(m, name)(verbose=False)


def imagededup_scores(csv_path: Path, name: str) -> dict[Pair, float]:
    method = _method(name)
    enc = {p: method.encode_image(image_file=p) for p, _ in read_groups_csv(csv_path)}
    dups = method.find_duplicates(
        encoding_map=enc, max_distance_threshold=MAX_HAMMING, scores=True, num_dist_workers=0
    )
    return {tuple(sorted((a, b))): float(d) for a, lst in dups.items() for b, d in lst}  # type: ignore[misc]


def imagededup_run(csv_path: Path, name: str, threshold: int) -> tuple[set[Pair], float]:
    method = _method(name)
    rows = read_groups_csv(csv_path)
    t0 = time.perf_counter()
    enc = {p: method.encode_image(image_file=p) for p, _ in rows}
    dups = method.find_duplicates(
        encoding_map=enc, max_distance_threshold=threshold, num_dist_workers=0
    )
    seconds = time.perf_counter() - t0
    return {tuple(sorted((a, b))) for a, lst in dups.items() for b in lst}, seconds  # type: ignore[misc]


# -- the run --------------------------------------------------------------------------------
def run(tune: Path, test: Path, repeats: int) -> dict[str, Any]:
    import cv2

    cv2.setNumThreads(1)  # tiny images: OpenCV's thread pool only adds overhead
    tune_truth = true_pairs(read_groups_csv(tune))
    test_rows = read_groups_csv(test)
    test_truth = true_pairs(test_rows)
    n = len(test_rows)
    rows: list[dict[str, Any]] = []

    base = DedupeConfig()
    accept_grid = [round(float(t), 3) for t in np.arange(0.80, 0.99, 0.005)]
    accept, tuned = _best(modiste_scores(tune, base), tune_truth, accept_grid, higher=True)
    config = replace(base, accept=accept)
    methods: list[tuple[str, Any, Any]] = [("modiste", accept, lambda: modiste_run(test, config))]
    oracle: dict[str, tuple[float, dict[str, Any]]] = {}
    for name in HASHES:
        t_grid = list(range(MAX_HAMMING + 1))
        thr, _ = _best(imagededup_scores(tune, name), tune_truth, t_grid, higher=False)  # type: ignore[arg-type]
        oracle[name] = _best(imagededup_scores(test, name), test_truth, t_grid, higher=False)  # type: ignore[arg-type]
        methods.append(
            (
                f"imagededup {name}",
                int(thr),
                lambda nm=name, t=int(thr): imagededup_run(test, nm, t),
            )
        )

    timings: dict[str, list[float]] = {m[0]: [] for m in methods}
    results: dict[str, set[Pair]] = {}
    for _ in range(repeats):  # interleaved, so load on the machine hits every method alike
        for label, _thr, fn in methods:
            pairs, seconds = fn()
            timings[label].append(seconds)
            results[label] = pairs
    for label, thr, _fn in methods:
        grouped = pairwise_scores(closure(results[label]), test_truth)
        row = {
            "method": label,
            "threshold": thr,
            **grouped,
            "direct_pairs": pairwise_scores(results[label], test_truth),
            "seconds_per_1000": min(timings[label]) / n * 1000,
        }
        if label.startswith("imagededup"):
            o_thr, o_s = oracle[label.split()[1]]
            row["oracle_threshold"], row["oracle_f1"] = o_thr, o_s["f1"]
        rows.append(row)
    return {
        "tune": str(tune),
        "test": str(test),
        "n_images": n,
        "n_true_pairs": len(test_truth),
        "modiste_settings": asdict(config),
        "modiste_tuning_f1": tuned["f1"],
        "rows": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| method | threshold (tuned on seed 1) | precision | recall | F1 | F1 direct pairs "
        "| imagededup oracle F1 (threshold) | s / 1000 images |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        oracle = f"{r['oracle_f1']:.3f} ({r['oracle_threshold']})" if "oracle_f1" in r else "—"
        lines.append(
            f"| {r['method']} | {r['threshold']} | {r['precision']:.3f} | {r['recall']:.3f} "
            f"| **{r['f1']:.3f}** | {r['direct_pairs']['f1']:.3f} | {oracle} "
            f"| {r['seconds_per_1000']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tune", type=Path, required=True)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--json", type=Path)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    report = run(a.tune, a.test, a.repeats)
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))
    print(markdown(report))


if __name__ == "__main__":
    main()
