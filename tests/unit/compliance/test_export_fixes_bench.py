"""Smoke run of ``python -m benchmarks.export_fixes`` on a few real studio photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.realdata
def test_export_fixes_bench_smoke(tmp_path: Path, datasets_dir: Path) -> None:
    out = tmp_path / "export_fixes.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    env["MODISTE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.export_fixes", "--datasets", str(datasets_dir),
         "--n", "4", "--profiles", "zalando", "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())["profiles"]["zalando"]
    assert result["photos"] == 4 == result["untouched"] + result["fixed"]
    assert result["fixed"] >= 1 and result["fixed_but_still_failing_frame_rules"] == 0
    assert result["product_mean_abs_diff_max"] < 3  # re-encoding only, no resampling
