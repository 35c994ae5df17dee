"""One ingest at a time per data folder, checked with real processes (an OS lock is per process).

A helper script runs an ingest whose extra stage "hold" waits for the test to release it, so
the overlap is certain, not a matter of timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ImageRow, StageState
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.lock import IngestBusyError, ingest_lock, is_held

SCRIPT = """
import sys, time
from pathlib import Path
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest
from modiste.pipeline.lock import IngestBusyError
from modiste.pipeline.stages import Outcome, available_stages, register_stage

data, wait, folder = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
available_stages()

@register_stage("hold", order=15, after=("store",))
def hold(ctx, ids):
    (folder / "holding").write_text("")
    deadline = time.monotonic() + 60
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {i: Outcome.done() for i in ids}

settings = Settings(data_dir=data)
try:
    summary = run_ingest(settings, Database(settings), stages=["store", "hold"], lock_wait_s=wait,
                         on_lock_wait=lambda m: print("WAIT", m, flush=True))
except IngestBusyError as e:
    print("BUSY", e, flush=True)
    sys.exit(3)
print("DONE", sorted((s.name, s.done) for s in summary.stages), flush=True)
"""


def _ingest(settings: Settings, wait: float, folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(settings.resolved_data_dir), str(wait), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_two_ingest_processes_never_interleave(
    settings: Settings, db: Database, make_feed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import_feed(db, make_feed(4))
    first = _ingest(settings, 0, tmp_path)
    try:
        _wait_for(tmp_path / "holding", first)
        assert is_held(settings)
        # A second one that may not wait refuses at once, saying who holds the catalog.
        refused = _ingest(settings, 0, tmp_path)
        out, err = refused.communicate(timeout=60)
        assert refused.returncode == 3, (out, err)
        assert f"another ingest is running on this catalog (pid {first.pid}, since" in out
        assert "--wait SECONDS" in out
        # One that may wait does, says so, and runs after the first one finished.
        waiting = _ingest(settings, 60, tmp_path)
        assert waiting.stdout is not None
        assert waiting.stdout.readline().startswith("WAIT another ingest is running")
        (tmp_path / "release").write_text("")
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0 and out.startswith("DONE"), (out, err)
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, (out, err)
        assert "('hold', 0), ('store', 0)" in out  # nothing left to do: no double work
    finally:
        for proc in (first,):
            if proc.poll() is None:
                proc.kill()
    with db.session() as s:
        images = s.scalar(select(func.count()).select_from(ImageRow))
        outcomes = s.scalar(select(func.count()).select_from(StageState))
    assert images and outcomes == 2 * images  # one "store" and one "hold" outcome per image
    assert not is_held(settings)


HOLD = (
    "import sys, time\n"
    "from modiste.config import Settings\n"
    "from modiste.pipeline.lock import ingest_lock\n"
    "with ingest_lock(Settings(data_dir=sys.argv[1])):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(60)\n"
)


def test_lock_waits_a_bounded_time_then_refuses(settings: Settings, tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.resolved_data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        told: list[str] = []
        started = time.monotonic()
        busy = pytest.raises(IngestBusyError, match=r"gave up after waiting 0\.3 s")
        with busy, ingest_lock(settings, wait_s=0.3, on_wait=told.append):
            pass
        assert 0.3 <= time.monotonic() - started < 10
        assert told == [
            f"another ingest is running on this catalog (pid {holder.pid}, since "
            + told[0].split(", since ")[1]
        ]
        assert "waiting up to 0.3 s" in told[0]
        # run_ingest holds the same lock, before doing anything.
        with pytest.raises(IngestBusyError):
            run_ingest(settings, Database(settings), stages=["store"])
    finally:
        holder.kill()
        holder.wait()
    # The OS releases a killed holder's lock: nothing stale to remove by hand.
    with ingest_lock(settings):
        assert is_held(settings)
    assert not is_held(settings)


def test_lock_wait_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", ingest_lock_wait_s=0.2)
    with ingest_lock(settings):
        started = time.monotonic()
        # a second open file in this process conflicts like another process would
        with pytest.raises(IngestBusyError, match=r"after waiting 0\.2 s"), ingest_lock(settings):
            pass
        assert time.monotonic() - started >= 0.2
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, ingest_lock_wait_s=-1)


def test_cli_ingest_refuses_or_waits_with_a_clear_message(settings: Settings, db: Database) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.resolved_data_dir)], stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        cli = [str(Path(sys.executable).parent / "modiste"), "--data-dir", str(settings.data_dir)]
        env = {**os.environ, "COLUMNS": "300"}
        refused = subprocess.run([*cli, "ingest", "--stages", "store"], capture_output=True,
                                 text=True, timeout=120, env=env)  # fmt: skip
        assert refused.returncode != 0
        assert f"another ingest is running on this catalog (pid {holder.pid}" in refused.stderr
        assert "Traceback" not in refused.stderr
        waited = subprocess.run([*cli, "ingest", "--stages", "store", "--wait", "0.5"],
                                capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
        assert waited.returncode != 0
        assert "waiting up to 0.5 s" in waited.stderr and "after waiting 0.5 s" in waited.stderr
    finally:
        holder.kill()
        holder.wait()
    done = subprocess.run([*cli, "ingest", "--stages", "store"], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
