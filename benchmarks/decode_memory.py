"""Peak memory of hostile images and of a gallery sort of 40 big PNGs (issue #16, items 1 and 7).

Run: ``.venv/bin/python -m benchmarks.decode_memory --json benchmarks/results/decode_memory.json``
(about four CPU-minutes; ``--src OTHER/src`` measures another checkout, e.g. a baseline; the
test suite makes a tiny run).

Every hostile image is built here by code (nothing big is committed), written to a temporary
folder, and decoded in a fresh subprocess, so each figure is that image's own peak: the
process's high-water RSS during :func:`decode_image` minus its RSS just before (the file's bytes
already read). Two ways of asking: at full size (``draft_size=None``, what the CLI's detect and
care-label commands do) and at model size (``draft_size=320``, what ingest and the API ask).

The gallery sort posts ``--files`` PNGs of ``--side`` x ``--side`` to ``POST /v1/galleries/sort``
of a real app (an empty catalog, the shipped shot classifier) in a fresh subprocess, through
Starlette's test client, and reports the RSS before, the peak during and the RSS after. The
posts without a key send ``--posts`` parallel JSON bodies of ``--post-mb`` MB each to a write
route of a uvicorn server on loopback (its own process) and report that server's RSS. The store
stage takes in ``--store-images`` local PNGs with its 8 fetch workers, and reports its RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.output import write_result

LIMIT_MB = 512.0  # the bound: peak memory per hostile image


def _save(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` over a few bytes of pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _with_chunk(png: bytes, chunk: bytes) -> bytes:
    """Insert ``chunk`` right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    return png[:33] + chunk + png[33:]


def hostile_images(side: int) -> dict[str, Callable[[], bytes]]:
    """Builders of awkward images whose big dimension is about ``side`` (just under the cap)."""
    s = side
    stripes = np.zeros((s, s, 3), np.uint8)
    stripes[:, ::8] = (200, 30, 30)  # something to compress, not a flat colour

    def rgb() -> Image.Image:
        return Image.fromarray(stripes)

    def animated(fmt: str) -> bytes:
        frames = [Image.new("RGB", (s, s), (i * 40, 0, 0)) for i in range(3)]
        return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50)

    small = _save(Image.new("RGB", (64, 64), (10, 20, 30)), "PNG")
    # A TIFF header whose first IFD claims 65535 entries, padded to about the most one JPEG
    # segment holds.
    big_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x07" * 65000
    deflate = {"compression": "tiff_adobe_deflate"}

    def icc_bomb() -> bytes:  # an ICC profile that inflates to 256 MB
        profile = b"icc\x00\x00" + zlib.compress(b"\x00" * (256 << 20), 9)
        return _with_chunk(small, _chunk(b"iCCP", profile))

    return {
        "png_rgb": lambda: _save(rgb(), "PNG", compress_level=1),
        "png_rgba": lambda: _save(rgb().convert("RGBA"), "PNG", compress_level=1),
        "png_16bit_grey": lambda: _save(
            Image.fromarray(np.full((s, s), 40000, np.uint16)), "PNG", compress_level=1
        ),
        "png_palette": lambda: _save(rgb().convert("P"), "PNG", compress_level=1),
        "png_header_bomb_100k": lambda: _png_claiming(100_000, 100_000),
        "png_icc_bomb": icc_bomb,
        "png_1x1": lambda: _save(Image.new("RGB", (1, 1)), "PNG"),
        "png_30000x10": lambda: _save(Image.new("RGB", (30000, 10), (5, 5, 5)), "PNG"),
        "jpeg_rgb": lambda: _save(rgb(), "JPEG", quality=80),
        "jpeg_cmyk": lambda: _save(rgb().convert("CMYK"), "JPEG", quality=80),
        "jpeg_huge_exif": lambda: _save(rgb(), "JPEG", quality=80, exif=big_exif),
        "gif": lambda: _save(rgb().convert("P"), "GIF"),
        "gif_animated": lambda: animated("GIF"),
        "webp": lambda: _save(rgb(), "WEBP", quality=50, method=0),
        "webp_animated": lambda: animated("WEBP"),
        "webp_under_cap": lambda: _save(  # the largest square WebP under its 24 MP cap
            Image.fromarray(stripes[:4890, :4890]), "WEBP", quality=50, method=0
        ),
        "tiff_deflate": lambda: _save(rgb(), "TIFF", **deflate),
        "tiff_16bit_grey": lambda: _save(
            Image.fromarray(np.full((s, s), 40000, np.uint16)),
            "TIFF",
            compression="tiff_adobe_deflate",
        ),
        "bmp": lambda: _save(rgb(), "BMP"),
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> bool:
    """Make VmHWM start again from the current RSS (Linux 4.0+); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_one(path: Path, draft: int | None) -> dict[str, Any]:
    """In this (fresh) process: decode ``path`` once and report its peak memory."""
    from modiste.errors import ImageDecodeError
    from modiste.imaging.decode import decode_image

    decode_image(_save(Image.new("RGB", (8, 8)), "PNG"))  # load the codecs first
    data = path.read_bytes()
    before = _rss_mb()
    _reset_peak()
    out: dict[str, Any] = {}
    try:
        decoded = decode_image(data, draft_size=draft, name=path.name)
        out["outcome"] = (
            f"decoded {decoded.width}x{decoded.height} -> {decoded.size[0]}x{decoded.size[1]}"
        )
    except ImageDecodeError as e:
        out["outcome"] = f"ImageDecodeError: {e}"
    out["peak_mb"] = round(_peak_mb() - before, 1)
    return out


def _env(src: Path | None) -> dict[str, str]:
    """This environment, importing ``modiste`` from ``src`` when given (another checkout)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env.get("PYTHONPATH", "")])
    return env


def _in_subprocess(*args: str, src: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.decode_memory", *args]
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, timeout=900, env=_env(src)
    )
    if done.returncode != 0:
        return {"outcome": f"crashed (rc {done.returncode}): {done.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_sort(side: int, files: int) -> dict[str, Any]:
    """In this (fresh) process: one gallery sort of ``files`` PNGs against a real app."""
    from fastapi.testclient import TestClient

    from modiste.api import create_app
    from modiste.config import Settings

    png = _save(Image.new("RGB", (side, side), (120, 130, 140)), "PNG")
    small = _save(Image.new("RGB", (64, 64), (120, 130, 140)), "PNG")
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp) / "data"))
        with TestClient(app) as client:
            warm = client.post("/v1/galleries/sort", files=[("files", ("w.png", small))])
            before = _rss_mb()
            _reset_peak()
            res = client.post(
                "/v1/galleries/sort",
                files=[("files", (f"p{i}.png", png, "image/png")) for i in range(files)],
            )
            peak = _peak_mb()
            after = _rss_mb()
        app.state.db.dispose()
    return {
        "request_mb": round(len(png) * files / 2**20, 2),
        "status": res.status_code,
        "warm_status": warm.status_code,
        "detail": res.json().get("detail") if res.status_code != 200 else None,
        "rss_before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
    }


def measure_store(side: int, files: int) -> dict[str, Any]:
    """In this (fresh) process: the ingest store stage over ``files`` local PNGs (8 workers)."""
    from modiste.catalog.db import Database
    from modiste.catalog.importer import import_feed
    from modiste.config import Settings
    from modiste.pipeline.ingest import run_ingest

    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed"
        feed.mkdir()
        rows = ["id,title,image_link"]
        for i in range(files):  # distinct bytes, so each one is decoded and stored
            im = Image.new("RGB", (side, side), (i, 130, 140))
            (feed / f"p{i}.png").write_bytes(_save(im, "PNG", compress_level=1))
            rows.append(f"p{i},Product {i},p{i}.png")
        (feed / "feed.csv").write_text("\n".join(rows) + "\n")
        settings = Settings(data_dir=Path(tmp) / "data")
        db = Database(settings)
        db.migrate()
        import_feed(db, feed / "feed.csv")
        before = _rss_mb()
        _reset_peak()
        summary = run_ingest(settings, db, stages=["store"])
        peak, after = _peak_mb(), _rss_mb()
        db.dispose()
    stage = summary.stages[0]
    return {
        "images": files,
        "workers": settings.fetch_workers,
        "stored": stage.done,
        "failed": stage.failed,
        "rss_before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
    }


def _serve(data_dir: Path, port: int, src: Path | None) -> subprocess.Popen[bytes]:
    """uvicorn in its own process (its RSS is the server's alone); ``src``: another checkout."""
    code = (
        "import uvicorn; from pathlib import Path; from modiste.api import create_app; "
        "from modiste.config import Settings; "
        f"uvicorn.run(create_app(Settings(data_dir=Path({str(data_dir)!r}))), "
        f"host='127.0.0.1', port={port}, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=_env(src))


def _proc_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _post_without_key(port: int, size: int) -> str:
    """POST a ``size``-byte JSON body to a write route, without a key, streamed in 1 MB parts."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    part = b" " * 2**20
    try:
        conn.putrequest("POST", "/v1/products")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        sent = 0
        while sent < size:
            chunk = part[: size - sent]
            conn.send(chunk)
            sent += len(chunk)
        return str(conn.getresponse().status)
    except OSError:
        try:  # the server answered and closed while we were still sending
            return str(conn.getresponse().status)
        except Exception as e:
            return f"closed ({type(e).__name__})"
    finally:
        conn.close()


def measure_unauthenticated(posts: int, size_mb: int, src: Path | None) -> dict[str, Any]:
    """``posts`` parallel JSON posts of ``size_mb`` MB without a key against a uvicorn server."""
    import socket
    import time
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        server = _serve(Path(tmp) / "data", port, src)
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            before = _proc_mb(server.pid, "VmRSS")
            with open(f"/proc/{server.pid}/clear_refs", "w") as f:
                f.write("5")
            with ThreadPoolExecutor(posts) as pool:
                statuses = list(
                    pool.map(lambda _: _post_without_key(port, size_mb << 20), range(posts))
                )
            time.sleep(0.5)
            peak, after = _proc_mb(server.pid, "VmHWM"), _proc_mb(server.pid, "VmRSS")
        finally:
            server.terminate()
            server.wait(30)
    return {
        "posts": posts,
        "body_mb": size_mb,
        "statuses": sorted(set(statuses)),
        "rss_before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=6300, help="side of the big images (6300: 39.7 MP)")
    ap.add_argument(
        "--files",
        type=int,
        action="append",
        help="PNGs in a gallery-sort request; repeat for several requests (default: 10 and 40)",
    )
    ap.add_argument("--only", action="append", help="hostile images to run (default: all)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--store-images", type=int, default=16, help="PNGs the store stage takes in")
    ap.add_argument("--posts", type=int, default=12, help="parallel JSON posts without a key")
    ap.add_argument("--post-mb", type=int, default=118, help="size of each of those posts")
    ap.add_argument(
        "--src", type=Path, help="measure the modiste package in this src/ folder (a baseline)"
    )
    ap.add_argument("--only-unauth", action="store_true", help="run only the posts without a key")
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # worker: one image
    ap.add_argument("--draft", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--sort-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--store-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, args.draft)))
        return
    if args.store_worker:
        print(json.dumps(measure_store(args.side, args.store_worker)))
        return
    if args.sort_worker:
        print(json.dumps(measure_sort(args.side, args.files[0])))
        return

    unauth = measure_unauthenticated(args.posts, args.post_mb, args.src)
    print("posts_without_key", json.dumps(unauth), flush=True)
    if args.only_unauth:
        return
    images: dict[str, Any] = {}
    builders = hostile_images(args.side)
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in builders.items():
            if args.only and name not in args.only:
                continue
            path = Path(tmp) / name
            path.write_bytes(build())
            row: dict[str, Any] = {"file_kb": round(path.stat().st_size / 1024, 1)}
            for label, draft in (("full", None), ("draft_320", 320)):
                extra = ["--draft", str(draft)] if draft else []
                row[label] = _in_subprocess("--one", str(path), *extra, src=args.src)
            images[name] = row
            print(name, json.dumps(row), flush=True)
    sort: dict[str, Any] = {}
    for files in args.files or [10, 40]:
        sort[f"{files}_files"] = _in_subprocess(
            "--sort-worker", "--side", str(args.side), "--files", str(files), src=args.src
        )
        print(f"gallery_sort {files} files", json.dumps(sort[f"{files}_files"]), flush=True)
    store = _in_subprocess(
        "--store-worker", str(args.store_images), "--side", str(args.side), src=args.src
    )
    print("store_stage", json.dumps(store), flush=True)
    worst = max(
        (r[k].get("peak_mb", 0.0) for r in images.values() for k in ("full", "draft_320")),
        default=0.0,
    )
    report = {
        "side": args.side,
        "limit_mb": LIMIT_MB,
        "worst_image_peak_mb": worst,
        "images": images,
        "gallery_sort": sort,
        "store_stage": store,
        "posts_without_key": unauth,
        "src": str(args.src) if args.src else "this checkout",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    write_result(args.json, json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
