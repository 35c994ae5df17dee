"""Load: concurrent photo and text searches against `modiste serve` while an ingest runs.

Usage::

    python -m benchmarks.load_bench --seconds 60 --concurrency 8 \\
        --json benchmarks/results/load_bench.json

Builds a demo-like catalog (`modiste demo --no-serve`: the sample feeds, fully ingested), starts
`modiste serve` on loopback, warms it up (one search of each kind: the models load then, timed
apart), and runs ``--concurrency`` async clients (httpx) for ``--seconds``: a mix of photo
searches (the demo photos, uploaded) and text searches. Meanwhile a second feed of
new products is imported and `modiste ingest` runs beside the server, so searches meet a catalog
and an index that change under them. Reports p50/p99 latency per kind, answers by status (5xx
must be 0), and the server's resident memory sampled every half second (it must stay bounded:
the peak and its growth over the last half of the run are reported).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import bench_env, free_port, modiste_cmd, rss_mb, run, tiny_photo, wait_http
from benchmarks.output import write_result

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-catalog"
WORDS = [
    "shirt",
    "jacket",
    "dress",
    "blue",
    "black",
    "hoodie",
    "ワンピース",
    "tee",
    "pants",
    "coat",
]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


async def _client(
    base: str, photos: list[bytes], end: float, rng: random.Random, out: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < end:
            kind = "photo" if rng.random() < out["photo_share"] else "text"
            started = time.perf_counter()
            try:
                if kind == "photo":
                    files = {"file": ("q.jpg", rng.choice(photos), "image/jpeg")}
                    r = await client.post("/v1/search/image", files=files, data={"k": "5"})
                else:
                    r = await client.get("/v1/search/text", params={"q": rng.choice(WORDS)})
                status = str(r.status_code)
            except httpx.HTTPError as e:
                status = type(e).__name__
            out["latency"][kind].append(time.perf_counter() - started)
            out["status"][status] = out["status"].get(status, 0) + 1


async def _sample_rss(pid: int, end: float, samples: list[tuple[float, float]]) -> None:
    start = time.monotonic()
    while time.monotonic() < end:
        mb = rss_mb(pid)
        if mb is not None:
            samples.append((round(time.monotonic() - start, 1), round(mb, 1)))
        await asyncio.sleep(0.5)


def _warm_up(base: str, photo: bytes, photos: bool) -> float:
    """One search of each kind before the clock starts: the models load on the first photo
    search (tens of seconds on a busy 2-core box), a one-off cost reported on its own."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=600) as client:
        client.get("/v1/search/text", params={"q": "shirt"})
        if photos:
            client.post("/v1/search/image", files={"file": ("q.jpg", photo, "image/jpeg")})
    return time.perf_counter() - started


def _ingest_feed(folder: Path, n: int, seed: int) -> Path:
    """``n`` new products, two tiny photos each, for the ingest that runs under load."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = ["id,title,product_type,price,image_link,additional_image_link"]
    for i in range(n):
        paths = []
        for j in range(2):
            p = folder / "img" / f"{i}-{j}.jpg"
            p.write_bytes(tiny_photo(seed * 10_000 + 2 * i + j))
            paths.append(str(p))
        lines.append(f"load-{i},Load shirt {i},T-shirt,{10 + i},{paths[0]},{paths[1]}")
    feed = folder / "load.csv"
    feed.write_text("\n".join(lines) + "\n")
    return feed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--photo-share", type=float, default=0.5, help="share of photo searches")
    parser.add_argument("--ingest-products", type=int, default=20, help="new products ingested")
    parser.add_argument("--no-ingest", action="store_true", help="searches only")
    parser.add_argument(
        "--catalog",
        choices=("demo", "tiny"),
        default="demo",
        help="demo: the sample catalog, ingested; tiny: 10 imported products, no ingest (smoke)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    env = bench_env()
    # Many searches from one address on purpose: measure the server, not its rate limits.
    env["MODISTE_API_RATE_LIMIT_PER_MINUTE"] = "0"
    photos = [p.read_bytes() for p in sorted((DEMO / "images").rglob("*.jpg"))[:12]]
    with tempfile.TemporaryDirectory(prefix="modiste-load-") as tmp:
        work = args.work or Path(tmp)
        data = work / "data"
        t = time.perf_counter()
        if args.catalog == "demo":
            run(modiste_cmd(data, "demo", "--no-serve"), env, timeout=1200)
        else:
            tiny = _ingest_feed(work / "tiny", 10, args.seed + 1)
            run(modiste_cmd(data, "import", str(tiny), "--seller", "tiny"), env)
        build_s = time.perf_counter() - t
        port = free_port()
        server = subprocess.Popen(
            modiste_cmd(data, "serve", "--port", str(port)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ingest: subprocess.Popen[bytes] | None = None
        out: dict[str, Any] = {
            "photo_share": args.photo_share,
            "latency": {"photo": [], "text": []},
            "status": {},
        }
        rss: list[tuple[float, float]] = []
        try:
            base = f"http://127.0.0.1:{port}"
            startup_s = wait_http(f"{base}/v1/health", server)
            warmup_s = _warm_up(base, photos[0], args.photo_share > 0)
            rss_warm = rss_mb(server.pid)
            if not args.no_ingest:
                feed = _ingest_feed(work / "feed", args.ingest_products, args.seed)
                run(modiste_cmd(data, "import", str(feed), "--seller", "load"), env)
                ingest = subprocess.Popen(
                    modiste_cmd(data, "ingest"),
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            end = time.monotonic() + args.seconds

            async def drive() -> None:
                seeds = [random.Random(rng.random()) for _ in range(args.concurrency)]
                await asyncio.gather(
                    _sample_rss(server.pid, end, rss),
                    *(_client(base, photos, end, r, out) for r in seeds),
                )

            asyncio.run(drive())
            ingest_rc = ingest.wait(timeout=600) if ingest else None
        finally:
            for proc in (ingest, server):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
    mbs = [mb for _, mb in rss]
    half = [mb for t_, mb in rss if t_ >= args.seconds / 2]
    statuses: dict[str, int] = out["status"]
    result = {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "requests": sum(statuses.values()),
        "by_status": statuses,
        "5xx": sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500),
        "transport_errors": sum(n for s, n in statuses.items() if not s.isdigit()),
        "photo": {
            "n": len(out["latency"]["photo"]),
            "p50_ms": _pct(out["latency"]["photo"], 0.5),
            "p99_ms": _pct(out["latency"]["photo"], 0.99),
        },
        "text": {
            "n": len(out["latency"]["text"]),
            "p50_ms": _pct(out["latency"]["text"], 0.5),
            "p99_ms": _pct(out["latency"]["text"], 0.99),
        },
        "rss_mb": {
            "after_warm_up": rss_warm,
            "peak": max(mbs, default=None),
            "first": mbs[0] if mbs else None,
            "last": mbs[-1] if mbs else None,
            "growth_second_half": round(max(half) - min(half), 1) if half else None,
            "median": statistics.median(mbs) if mbs else None,
            "samples": rss,
        },
        "ingest_under_load": None
        if args.no_ingest
        else {"products": args.ingest_products, "rc": ingest_rc},
        "catalog": args.catalog,
        "catalog_build_s": round(build_s, 1),
        "server_startup_s": round(startup_s, 2),
        "warm_up_s": round(warmup_s, 2),
    }
    text = json.dumps(result, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mb"}, indent=1))
    print("rss_mb:", {k: v for k, v in result["rss_mb"].items() if k != "samples"})
    write_result(args.json, text)
    failed = result["5xx"] or result["transport_errors"] or (ingest_rc not in (None, 0))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
