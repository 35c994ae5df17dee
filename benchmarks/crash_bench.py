"""Crash safety: SIGKILL `modiste import`, `modiste ingest` and `modiste serve` (under API
writes) at random moments, restart, and check that nothing acknowledged was lost.

Usage::

    python -m benchmarks.crash_bench --kills 200 --seed 0 --json benchmarks/results/crash_bench.json

Each cycle picks (seeded) one of: an import of a small new feed, an ingest, or the API server
taking product writes (POST, PATCH) from two client threads, half of the time while an ingest
runs beside it. The process is killed at a random moment within the time such a run took
before (so some kills land while models load, some mid-chunk, some after it finished: those
count as completed runs, not kills). After every kill the SQLite file is checked (integrity,
every acknowledged product and image present, acknowledged prices kept, no duplicate rows);
after every run that finished, and every ``--settle-every`` kills (a full ingest is run then),
the data folder too (no temp files, no orphan originals) and the vector index against the
catalog. Photos are tiny generated JPEGs, or ../shared/datasets photos with ``--real`` (skipped
cleanly when absent). Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.crash_checks import Acknowledged, check_database, check_files, check_index
from benchmarks.harness import (
    ImageHost,
    bench_env,
    free_port,
    modiste_cmd,
    real_photos,
    run,
    tiny_photo,
    wait_http,
)
from benchmarks.output import write_result


class CrashBench:
    def __init__(self, work: Path, seed: int, real: list[Path]) -> None:
        self.rng = random.Random(seed)
        self.work = work
        self.data = work / "data"
        self.feeds = work / "feeds"
        self.feeds.mkdir(parents=True, exist_ok=True)
        self.real = real
        self.host = ImageHost(real)
        self.env = bench_env(
            {
                "MODISTE_FETCH_ALLOWED_HOSTS": self.host.allow_list(),
                "MODISTE_INGEST_CHUNK_SIZE": "4",
            }
        )
        self.ack = Acknowledged()
        self.next_seed = 0
        self.estimate: dict[str, float] = {}  # how long each kind of run took, when it finished
        self.kills: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        self.violations: list[dict[str, Any]] = []
        self.checks = 0
        self.api_acks = 0
        self.api_errors: dict[str, int] = {}
        self.key = ""
        self.spawned = 0
        self.api_5xx: list[str] = []  # the problem details of server errors (not kills)

    # -- setup -----------------------------------------------------------------------------
    def _photo_file(self) -> str:
        self.next_seed += 1
        path = self.feeds / "img" / f"{self.next_seed}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(tiny_photo(self.next_seed, real=self.real))
        return str(path)

    def _feed(self, cycle: int, n: int) -> tuple[Path, list[tuple[str, list[str]]]]:
        rows = [(f"c{cycle}-{j}", [self._photo_file(), self._photo_file()]) for j in range(n)]
        path = self.feeds / f"feed-{cycle}.csv"
        lines = ["id,title,product_type,price,image_link,additional_image_link"]
        lines += [f"{pid},Shirt {pid},T-shirt,{10 + len(pid)},{a},{b}" for pid, (a, b) in rows]
        path.write_text("\n".join(lines) + "\n")
        return path, rows

    def setup(self, products: int, *, measure: bool = True) -> dict[str, float]:
        """A small catalog, imported and fully ingested; times what one cycle will cost."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        run(modiste_cmd(self.data, "init"), self.env)
        timings["init_s"] = time.perf_counter() - t
        self.key = run(modiste_cmd(self.data, "keys", "create", "crash-bench"), self.env).split()[
            -1
        ]
        feed, rows = self._feed(-1, products)
        t = time.perf_counter()
        run(modiste_cmd(self.data, "import", str(feed), "--seller", "bench"), self.env)
        self.estimate["import"] = timings["import_s"] = time.perf_counter() - t
        for pid, sources in rows:
            self.ack.add("bench", pid, sources)
        t = time.perf_counter()
        run(modiste_cmd(self.data, "ingest"), self.env)
        self.estimate["ingest"] = timings["first_ingest_s"] = time.perf_counter() - t
        if measure:
            t = time.perf_counter()
            run(modiste_cmd(self.data, "ingest"), self.env)
            timings["noop_ingest_s"] = time.perf_counter() - t  # start-up, nothing to do
        self.estimate["api"] = 2.0
        self._verify("setup", full=True)
        return timings

    # -- one cycle -------------------------------------------------------------------------
    def _kill_at(self, procs: list[subprocess.Popen[bytes]], kind: str, delay: float) -> bool:
        """Kill every process at ``delay`` s; True if at least one was still running."""
        end = time.monotonic() + delay
        while time.monotonic() < end and any(p.poll() is None for p in procs):
            time.sleep(0.01)
        alive = [p for p in procs if p.poll() is None]
        for p in alive:
            p.kill()
        for p in procs:
            p.wait()
        return bool(alive)

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a command; its stderr goes to WORK/logs (kept with ``--work``: why a 5xx was)."""
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        self.spawned += 1
        with (logs / f"{self.spawned:04d}-{args[0]}.log").open("wb") as err:
            return subprocess.Popen(
                modiste_cmd(self.data, *args),
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def cycle_import(self, cycle: int) -> bool:
        feed, rows = self._feed(cycle, 2)
        proc = self._spawn("import", str(feed), "--seller", "bench")
        started = time.monotonic()
        killed = self._kill_at(
            [proc], "import", self.rng.uniform(0.05, 1.1) * self.estimate["import"]
        )
        if not killed and proc.returncode == 0:
            self.estimate["import"] = max(self.estimate["import"], time.monotonic() - started)
            for pid, sources in rows:
                self.ack.add("bench", pid, sources)
        return killed

    def cycle_ingest(self, cycle: int) -> bool:
        proc = self._spawn("ingest")
        started = time.monotonic()
        killed = self._kill_at(
            [proc], "ingest", self.rng.uniform(0.05, 1.1) * self.estimate["ingest"]
        )
        if not killed and proc.returncode == 0:
            self.estimate["ingest"] = 0.7 * self.estimate["ingest"] + 0.3 * (
                time.monotonic() - started
            )
        return killed

    def cycle_api(self, cycle: int) -> bool:
        port = free_port()
        server = self._spawn("serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/v1/health", server)
        except RuntimeError:
            server.kill()
            server.wait()
            return False
        procs = [server]
        if self.rng.random() < 0.5:
            procs.append(self._spawn("ingest"))  # writes while an ingest commits beside them
        stop = threading.Event()
        writers = [
            threading.Thread(target=self._writer, args=(base, f"a{cycle}-{w}", stop))
            for w in range(2)
        ]
        for t in writers:
            t.start()
        killed = self._kill_at(procs, "api", self.rng.uniform(0.2, 1.0) * self.estimate["api"])
        stop.set()
        for t in writers:
            t.join()
        return killed

    def _writer(self, base: str, prefix: str, stop: threading.Event) -> None:
        """POST products (with image URLs) and PATCH their price; record what was acknowledged."""
        headers = {"X-API-Key": self.key}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                ext = f"{prefix}-{n}"
                self.next_seed += 1
                images = [f"{self.host.base}/img/{self.next_seed}.jpg"]
                body = {
                    "seller": "api",
                    "external_id": ext,
                    "title": f"Coat {ext}",
                    "images": images,
                }
                try:
                    r = client.post("/v1/products", json=body)
                    self._count(r)
                    if r.status_code != 201:
                        continue
                    self.ack.add("api", ext, images)
                    self.api_acks += 1
                    price = float(n)
                    r = client.patch(f"/v1/products/{r.json()['id']}", json={"price": price})
                    self._count(r)
                    if r.status_code == 200:
                        self.ack.prices[("api", ext)] = price
                        self.api_acks += 1
                except httpx.HTTPError:
                    self._count("connection")  # the server was killed mid-request: not acked
                    return

    def _count(self, what: httpx.Response | str) -> None:
        status = str(what.status_code) if isinstance(what, httpx.Response) else what
        if status not in ("200", "201"):
            self.api_errors[status] = self.api_errors.get(status, 0) + 1
        if isinstance(what, httpx.Response) and what.status_code >= 500:
            self.api_5xx.append(f"{what.request.method} {what.status_code}: {what.text[:300]}")

    # -- checks ----------------------------------------------------------------------------
    def _verify(self, where: str, *, full: bool) -> None:
        self.checks += 1
        found = check_database(self.data / "modiste.db", self.ack)
        if full:
            found += check_files(self.data) + check_index(self.data)
        for v in found:
            self.violations.append({"where": where, "violation": v})
            print(f"  VIOLATION after {where}: {v}", flush=True)

    def settle(self, where: str) -> None:
        """Run an ingest to the end (the restart after crashes), then check everything."""
        run(modiste_cmd(self.data, "ingest"), self.env)
        self._verify(f"{where} + full ingest", full=True)

    def run_cycles(self, kills: int, settle_every: int) -> None:
        kinds = ["import", "ingest", "api"]
        weights = [0.3, 0.45, 0.25]
        cycle = 0
        total = 0
        while total < kills:
            cycle += 1
            kind = self.rng.choices(kinds, weights)[0]
            killed = getattr(self, f"cycle_{kind}")(cycle)
            where = f"cycle {cycle} ({kind}, {'killed' if killed else 'finished'})"
            if killed:
                total += 1
                self.kills[kind] = self.kills.get(kind, 0) + 1
                self._verify(where, full=False)
                if total % settle_every == 0:
                    self.settle(where)
            else:
                self.completed[kind] = self.completed.get(kind, 0) + 1
                self._verify(where, full=kind == "ingest")
            if cycle % 10 == 0:
                print(
                    f"cycle {cycle}: {total} kills, {len(self.violations)} violations", flush=True
                )
        self.settle("last cycle")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="SIGKILLs to deliver in all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--products", type=int, default=4, help="products in the first feed")
    parser.add_argument(
        "--settle-every", type=int, default=10, help="full ingest + checks every N kills"
    )
    parser.add_argument("--real", action="store_true", help="photos from ../shared/datasets")
    parser.add_argument(
        "--work", type=Path, default=None, help="working folder (default: a temp one)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    real = real_photos() if args.real else []
    if args.real and not real:
        print("crash_bench: ../shared/datasets not found, skipped (run without --real)")
        return 0
    with tempfile.TemporaryDirectory(prefix="modiste-crash-") as tmp:
        bench = CrashBench(args.work or Path(tmp), args.seed, real)
        started = time.perf_counter()
        try:
            timings = bench.setup(args.products, measure=args.kills >= 10)
            bench.run_cycles(args.kills, args.settle_every)
        finally:
            bench.host.close()
        seconds = time.perf_counter() - started
    n_kills = sum(bench.kills.values())
    result = {
        "kills": n_kills,
        "kills_by_kind": bench.kills,
        "runs_finished_before_the_kill": bench.completed,
        "checks": bench.checks,
        "violations": bench.violations,
        "acknowledged_products": len(bench.ack.products),
        "acknowledged_api_writes": bench.api_acks,
        "api_non_2xx": bench.api_errors,
        "api_5xx_details": bench.api_5xx[:20],
        "seconds": round(seconds, 1),
        "seconds_per_kill": round(seconds / max(n_kills, 1), 2),
        "setup": {k: round(v, 2) for k, v in timings.items()},
        "seed": args.seed,
        "photos": "shared/datasets" if real else "generated",
    }
    text = json.dumps(result, indent=1)
    print(text)
    write_result(args.json, text)
    return 1 if bench.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
