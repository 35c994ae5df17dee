"""What the crash and load benchmarks share: the `modiste` command as a subprocess, a free
loopback port, a server that is up, tiny generated photos, and a loopback image host.

The benchmarks drive Modiste only through its public entry points (the CLI and HTTP), so they
keep measuring the same thing while the code behind them changes.
"""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def modiste_cmd(data_dir: Path, *args: str) -> list[str]:
    """``modiste --data-dir DATA ARGS`` with the venv's entry point (or the module, without it)."""
    exe = Path(sys.executable).with_name("modiste")
    entry = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from modiste.cli.app import main; main()"]
    )
    return [*entry, "--data-dir", str(data_dir), *args]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The user's environment without MODISTE_* (hermetic), one thread per library, and ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    env.update({"OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run(cmd: Sequence[str], env: dict[str, str], timeout: float = 600) -> str:
    """Run to completion; a failure raises with the command's stderr (the bench cannot go on)."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[-3:])} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> float:
    """Seconds until ``url`` answers 200 (the server process must stay alive meanwhile)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def tiny_photo(
    seed: int, size: tuple[int, int] = (72, 96), real: list[Path] | None = None
) -> bytes:
    """A small JPEG: a real photo downscaled when ``real`` photos are given, else a drawn
    'garment' (a coloured torso shape on a light background) unique to ``seed``."""
    rng = random.Random(seed)
    if real:
        with Image.open(real[seed % len(real)]) as src:
            im = src.convert("RGB")
        im.thumbnail(size)
        # a small seeded mark keeps every product's bytes distinct (no accidental duplicates)
        ImageDraw.Draw(im).rectangle((0, 0, 3, 3), fill=(seed % 256, seed // 256 % 256, 7))
    else:
        im = Image.new("RGB", size, (235, 235, 230))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        w, h = size
        ImageDraw.Draw(im).polygon(
            [(w * 0.25, h * 0.15), (w * 0.75, h * 0.15), (w * 0.85, h * 0.9), (w * 0.15, h * 0.9)],
            fill=colour,
        )
        ImageDraw.Draw(im).rectangle((0, 0, 3, 3), fill=(seed % 256, seed // 256 % 256, 7))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def real_photos(limit: int = 200) -> list[Path]:
    """Catalog photos from ../shared/datasets when present (empty list when absent)."""
    root = DATASETS / "magento_luma"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.jpg"))[:limit]


class ImageHost(ThreadingHTTPServer):
    """Serves ``/img/<seed>.jpg`` as :func:`tiny_photo` for API-created products."""

    daemon_threads = True

    def __init__(self, real: list[Path] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _ImageHandler)
        self.real = real
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def allow_list(self) -> str:
        """MODISTE_FETCH_ALLOWED_HOSTS for this host (bare and HOST:PORT forms)."""
        return f'["127.0.0.1", "127.0.0.1:{self.server_address[1]}"]'

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _ImageHandler(BaseHTTPRequestHandler):
    server: ImageHost

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1].removesuffix(".jpg")
        if not name.isdigit():
            self.send_error(404)
            return
        body = tiny_photo(int(name), real=self.server.real)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (Linux /proc), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
