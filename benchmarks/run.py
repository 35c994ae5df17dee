"""`make bench`: the benchmarks that run in minutes on 2 cores, one after another.

The long ones are listed in benchmarks/README.md with their own commands: the 1M-vector index
run (`--full` here adds it, ~20 min) and the duplicate benchmark (needs its data set built first).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

RUNS: list[list[str]] = [
    ["benchmarks.shots_bench", "--threads", "2", "--json", "benchmarks/results/shots_bench.json"],
    ["benchmarks.search_bench", "--threads", "2", "--json", "benchmarks/results/search_bench.json"],
    [
        "benchmarks.index_bench",
        "--n",
        "100000",
        "--dim",
        "1280",
        "--json",
        "benchmarks/results/index_100k.json",
    ],
    ["benchmarks.dedupe_regroup", "--json", "benchmarks/results/dedupe_regroup.json"],
    ["benchmarks.relevance_floor", "--json", "benchmarks/results/relevance_floor.json"],
    ["benchmarks.search_e2e", "--json", "benchmarks/results/search_e2e_packshots.json"],
    ["benchmarks.colour_names", "--json", "benchmarks/results/colour_names.json"],
    ["benchmarks.compliance_bench", "--json", "benchmarks/results/compliance_bench.json"],
]
FULL: list[list[str]] = [
    [
        "benchmarks.index_bench",
        "--n",
        "100000",
        "--n",
        "1000000",
        "--dim",
        "1280",
        "--json",
        "benchmarks/results/index.json",
    ],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also the 1M-vector index run")
    args = parser.parse_args()
    failed = 0
    for run in RUNS + (FULL if args.full else []):
        print("+ python -m " + " ".join(run), flush=True)
        failed += subprocess.call([sys.executable, "-m", *run]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
