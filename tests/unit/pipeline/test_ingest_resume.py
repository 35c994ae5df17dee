"""Resumability for real: SIGKILL a `modiste ingest` process midway, rerun it, check the catalog.

Images come from a loopback HTTP server that delays each response, so the first run is slow
enough to be killed after some chunks are committed; the rerun gets fast responses.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_helpers import LoopbackServer, Route, png_bytes

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.config import Settings

N_IMAGES = 200
N_DISTINCT = 190  # images i and i + 190 have the same bytes
BROKEN = {17, 123}  # served as HTML: these must end up failed, once
CHUNK = 5


def modiste_command(data_dir: Path) -> list[str]:
    exe = Path(sys.executable).with_name("modiste")
    entry = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from modiste.cli.app import main; main()"]
    )
    return [*entry, "--data-dir", str(data_dir), "ingest", "--stages", "store"]


def query(db_file: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_file, timeout=10) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_sigkill_midway_then_rerun(tmp_path: Path, http_server: LoopbackServer) -> None:
    for i in range(N_IMAGES):
        body = b"<html>gone</html>" if i in BROKEN else png_bytes((i % N_DISTINCT, 50, 150))
        http_server.routes[f"/img/{i}.jpg"] = Route(body)
    feed = tmp_path / "feed.csv"
    rows = [f"p{i},Product {i},{http_server.base}/img/{i}.jpg" for i in range(N_IMAGES)]
    feed.write_text("id,title,image_link\n" + "\n".join(rows) + "\n")
    data_dir = tmp_path / "data"
    db = Database(Settings(data_dir=data_dir))
    db.migrate()
    assert import_feed(db, feed).created == N_IMAGES
    db.dispose()
    db_file = data_dir / "modiste.db"
    env = {
        **os.environ,
        "MODISTE_INGEST_CHUNK_SIZE": str(CHUNK),
        "MODISTE_FETCH_WORKERS": "2",
        "MODISTE_FETCH_ALLOWED_HOSTS": f'["{http_server.allow}"]',
        "COLUMNS": "200",
    }
    stored_sql = "SELECT count(*) FROM images WHERE status = 'stored'"

    http_server.delay = 0.03  # ~75 ms per chunk of 5 with 2 workers: ~3 s for the whole run
    first = subprocess.Popen(
        modiste_command(data_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and first.poll() is None:
        stored = query(db_file, stored_sql)[0][0]  # type: ignore[assignment]
        if stored >= 4 * CHUNK:
            break
        time.sleep(0.02)
    first.kill()  # SIGKILL: no cleanup, no finally blocks
    first.wait()
    assert first.returncode == -9, first.stderr.read() if first.stderr else ""
    stored_at_kill = query(db_file, stored_sql)[0][0]
    assert 4 * CHUNK <= stored_at_kill < N_IMAGES - len(BROKEN), "not killed midway"
    hits_first = len(http_server.hits)

    http_server.delay = 0.0
    second = subprocess.run(
        modiste_command(data_dir), env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    # resumed, not restarted: only the images without a committed outcome were fetched again
    hits_second = len(http_server.hits) - hits_first
    assert hits_second <= N_IMAGES - stored_at_kill + CHUNK

    statuses = dict(query(db_file, "SELECT status, count(*) FROM images GROUP BY status"))
    assert statuses == {"stored": N_IMAGES - len(BROKEN), "failed": len(BROKEN)}
    assert query(db_file, "SELECT count(*), count(DISTINCT external_id) FROM products") == [
        (N_IMAGES, N_IMAGES)
    ]
    assert query(db_file, "SELECT count(*), count(DISTINCT source) FROM images") == [
        (N_IMAGES, N_IMAGES)
    ]
    stage_rows = query(
        db_file,
        "SELECT stage, status, count(*), count(DISTINCT image_id) FROM image_stages "
        "GROUP BY stage, status",
    )
    assert sorted(stage_rows) == [
        ("store", "done", N_IMAGES - len(BROKEN), N_IMAGES - len(BROKEN)),
        ("store", "failed", len(BROKEN), len(BROKEN)),
    ]
    hashes = {
        h for (h,) in query(db_file, "SELECT content_hash FROM images WHERE status = 'stored'")
    }
    assert len(hashes) == len({i % N_DISTINCT for i in range(N_IMAGES) if i not in BROKEN})
    files = [p for p in (data_dir / "images").rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted(hashes)  # one file per distinct hash
    assert not [p for p in data_dir.rglob(".tmp-*")], "temp files left behind"
