"""Tiny runs of the crash and load benchmarks, so `make test` notices when a harness breaks.

They run the scripts as a user would (`python -m benchmarks.NAME`) in a temp folder, and check
what the scripts check: no violation after a few SIGKILLs, no 5xx and no dropped connection
under a few seconds of load. The figures themselves live in benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_crash_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "crash.json"
    done = _bench(
        "crash_bench",
        *("--kills", "3", "--settle-every", "3", "--products", "1", "--seed", "1"),
        *("--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["kills"] >= 3
    assert result["checks"] >= 4  # setup, each kill, the final settle
    # Nothing acknowledged lost or doubled, no orphan or temp file, the index agrees.
    assert result["violations"] == []
    assert done.returncode == 0


@pytest.mark.slow
def test_load_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    done = _bench(
        "load_bench",
        *("--catalog", "tiny", "--no-ingest", "--photo-share", "0", "--seconds", "3"),
        *("--concurrency", "4", "--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["requests"] > 0 and result["5xx"] == 0
    assert result["text"]["p50_ms"] is not None
    assert result["rss_mb"]["peak"] is not None


@pytest.mark.slow
def test_search_bench_smoke(tmp_path: Path) -> None:
    """Photo queries end to end against a real catalog: it crashed when search began checking
    hits against the catalog and the bench had none (db=None)."""
    out = tmp_path / "search.json"
    done = _bench(
        "search_bench",
        *("--n", "300", "--queries", "2", "--threads", "1"),
        *("--work", str(tmp_path / "work"), "--json", str(out)),
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["index_vectors"] == 300 and result["queries"] == 2
    assert result["mean_objects"] >= 1
    assert result["mean_hits_per_object"] > 0  # the catalog check kept the bench's products
    assert 0 < result["search_ms"]["median"] <= result["total_ms"]["median"]


@pytest.mark.slow
def test_index_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "index.json"
    done = _bench(
        "index_bench",
        *("--n", "2000", "--dim", "32", "--queries", "20", "--train-n", "2000"),
        *("--codec", "SQ6", "--workdir", str(tmp_path / "work"), "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["config"] for r in rows} >= {"faiss-flat", "faiss-ivf-sq6", "faiss-hnsw-sq6"}
    flat = next(r for r in rows if r["config"] == "faiss-flat")
    assert flat["recall_at_10"] == 1.0  # exact search agrees with the ground truth
    assert all(0 < r["recall_at_10"] <= 1 and r["p50_ms"] > 0 for r in rows)
    assert out.with_suffix(".md").is_file()


@pytest.mark.slow
def test_index_codecs_smoke(tmp_path: Path) -> None:
    out = tmp_path / "codecs.json"
    done = _bench(
        "index_codecs",
        *("--n", "2000", "--dim", "32", "--queries", "20", "--nprobe", "8"),
        *("IVFNL,SQ4", "Flat", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["spec"] for r in rows] == ["IVF178,SQ4", "Flat"]  # NL = 4 sqrt(n)
    assert rows[1]["recall_at_10"] == 1.0
    assert 0 < rows[0]["recall_at_10"] <= 1


def _listed_in_make_bench() -> list[str]:
    from benchmarks.run import FULL, RUNS

    return sorted({run[0] for run in RUNS + FULL})


@pytest.mark.parametrize("module", _listed_in_make_bench())
def test_make_bench_modules_exist_and_parse_arguments(module: str) -> None:
    """`make bench` runs these: each must exist and take its arguments (its --help works)."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage:" in done.stdout


@pytest.mark.slow
def test_dedupe_set_and_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    """make_dedupe_set builds a tuning and a test set (a few photos each), dedupe_bench scores."""
    sets = {}
    for seed in ("0", "1"):
        sets[seed] = tmp_path / f"set{seed}"
        done = _bench(
            "make_dedupe_set",
            *("--out", str(sets[seed]), "--seed", seed, "--datasets", str(datasets_dir)),
            *("--originals", "3", "--copies", "1", "--distractors", "3"),
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len((sets[seed] / "dups.csv").read_text().splitlines()) == 1 + 3 * 2 + 3
    out = tmp_path / "dedupe.json"
    done = _bench(
        "dedupe_bench",
        *("--tune", str(sets["1"] / "dups.csv"), "--test", str(sets["0"] / "dups.csv")),
        *("--repeats", "1", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["n_images"] == 9 and report["n_true_pairs"] == 3
    assert report["rows"][0]["method"] == "modiste"
    assert all(0 <= r["f1"] <= 1 and r["seconds_per_1000"] > 0 for r in report["rows"])


@pytest.mark.slow
def test_dedupe_regroup_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    out = tmp_path / "regroup.json"
    done = _bench(
        "dedupe_regroup",
        *("--datasets", str(datasets_dir), "--n", "12", "--new", "4", "--json", str(out)),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["n_stored"] == 12 and result["same_groups"] is True
    assert result["incremental"]["verified"] < result["recompute"]["verified"]
