"""Ingest throughput: the pipeline as it was ("legacy") against the new engines, same photos.

Usage::

    flock /tmp/modiste-heavy.lock python -m benchmarks.ingest_bench \\
        --json benchmarks/results/ingest_bench.json            # 120 Magento photos
    python -m benchmarks.ingest_bench --all --rounds 3          # all 342

A catalog of Magento Luma photos (``../shared/datasets/magento_luma``, a seeded sample of whole
products) is imported into a fresh data folder per run and ingested with every stage, each run in
its own process (so peak RSS is that run's). Engines alternate (legacy, local, legacy, local...)
because the machine is shared: the speed-up reported is the median of the per-round ratios, not
a ratio of figures taken minutes apart. The ONNX exports are made once, by a warm-up run, and
copied into each data folder (a first ingest pays that once per install, not per photo).

Engine ``f32`` is this checkout's local engine with its models in float32 on ONNX Runtime
(``MODISTE_INFERENCE_PRECISION=f32``), where ``local`` takes ``Settings.inference_precision``'s
default (bfloat16 on OpenVINO where the CPU has it): the precision's own speed-up and agreement,
same rounds. ``legacy`` runs float32 too, as it did.

``--before CHECKOUT`` adds engine ``before``: the local engine of an earlier commit, checked out
beside this one (``git worktree add ../before <commit>``, so that its ``../shared`` is this
one's), run in the same rounds: a change measured against the code it replaces, on the same
photos under the same load.

Agreement of the last round, new against legacy (and against ``before``), per photo: shot label
identical; garment boxes matched by label and IoU; the matched garments' vectors' cosine;
same-product retrieval R@1 over the catalog's own vectors (every photo whose product has another
photo is a query).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import DATASETS
from benchmarks.output import work_dir, write_result

ENGINES = ("legacy", "local", "ray")
CATALOGS = ("magento", "fashion_products")


def catalog_gallery(catalog: str, work: Path) -> Path:
    """The photos to ingest as a gallery CSV (``product_id``, ``image_path``, title...):
    Magento Luma's own (model shots, several per product), or the Myntra catalog's packshots
    (``fashion_products``, one per product: a marketplace feed) written in that form."""
    if catalog == "magento":
        source = DATASETS / "magento_luma" / "gallery.csv"
    else:
        products = DATASETS / "fashion_products" / "products.csv"
        if not products.is_file():
            raise SystemExit(f"{products} not found: the benchmark needs ../shared/datasets")
        with products.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["image_path"]]
        source = work / "fashion-gallery.csv"
        source.parent.mkdir(parents=True, exist_ok=True)
        with source.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["product_id", "image_path", "title", "gender", "category"])
            for r in rows:
                path = (products.parent / r["image_path"]).resolve()
                where = "/".join(r[k] for k in ("masterCategory", "subCategory", "articleType"))
                writer.writerow([r["id"], path, r["productDisplayName"], r["gender"], where])
    if not source.is_file():
        raise SystemExit(f"{source} not found: the benchmark needs ../shared/datasets")
    return source


def sample_gallery(source: Path, n: int | None, out: Path, seed: int = 0) -> int:
    """Whole products drawn at random until ``n`` photos (all when None); absolute paths."""
    with source.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_product: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        row["image_path"] = str((source.parent / row["image_path"]).resolve())
        by_product[row["product_id"]].append(row)
    products = sorted(by_product)
    random.Random(seed).shuffle(products)
    picked: list[dict[str, str]] = []
    for pid in products:
        if n is not None and len(picked) >= n:
            break
        picked += by_product[pid]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(picked)
    return len(picked)


# --- one run, in its own process -------------------------------------------------------------


def ingest_gallery(
    engine: str, gallery: Path, data_dir: Path, onnx: Path | None = None
) -> tuple[Any, Any, Any, float]:
    """Import ``gallery`` as a feed into a fresh ``data_dir`` and ingest it with ``engine``
    (``onnx``: exported graphs to start from); returns settings, database, summary, seconds."""
    from modiste.catalog.db import Database
    from modiste.catalog.gallery_feed import gallery_to_feed
    from modiste.catalog.importer import import_feed
    from modiste.config import Settings
    from modiste.pipeline.ingest import run_ingest

    settings = Settings(data_dir=data_dir, feed_file_roots=[gallery.parent, DATASETS])
    feed = data_dir.parent / f"{data_dir.name}-feed.csv"
    gallery_to_feed(gallery, feed)
    db = Database(settings)
    db.migrate()
    import_feed(db, feed)
    if onnx is not None and onnx.is_dir():
        shutil.copytree(onnx, settings.cache_dir / "onnx", dirs_exist_ok=True)
    started = time.perf_counter()
    summary = run_ingest(settings, db, engine=engine)
    return settings, db, summary, time.perf_counter() - started


def one_run(engine: str, gallery: Path, data_dir: Path, onnx: Path | None, out: Path) -> None:
    """Import ``gallery`` into a fresh ``data_dir``, ingest it with ``engine``, dump the result."""
    settings, db, summary, seconds = ingest_gallery(engine, gallery, data_dir, onnx)
    result = {
        "engine": engine,
        "seconds": round(seconds, 3),
        "stages": {s.name: s.seconds for s in summary.stages},
        "failures": len(summary.failures),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "driver_writes": summary.reports.get("ray"),
        **catalog_dump(settings, db),
    }
    db.dispose()
    out.write_text(json.dumps(result))


def catalog_dump(settings: Any, db: Any) -> dict[str, Any]:
    """Per photo (keyed by its source path): shot label, garments with their vectors."""
    from sqlalchemy import select

    from modiste.catalog.repository import catalog_status
    from modiste.catalog.schema import GarmentRow, ImageRow, ProductRow, ShotRow
    from modiste.search.indexing import open_built_index

    index = open_built_index(settings)
    vectors: dict[int, list[float]] = {}
    if index is not None:
        for ids, vecs in index._engine.vectors():  # type: ignore[attr-defined]
            vectors.update(zip(ids.tolist(), vecs.tolist(), strict=True))
    photos: dict[str, Any] = {}
    with db.session() as session:
        for image_id, source, product in session.execute(
            select(ImageRow.id, ImageRow.source, ProductRow.external_id).join(ProductRow)
        ):
            photos[source] = {"id": image_id, "product": product, "shot": None, "garments": []}
        by_id = {p["id"]: p for p in photos.values()}
        for image_id, label in session.execute(select(ShotRow.image_id, ShotRow.label)):
            by_id[image_id]["shot"] = label
        for g in session.scalars(select(GarmentRow)):
            by_id[g.image_id]["garments"].append(
                {
                    "label": g.label,
                    "box": [g.x1, g.y1, g.x2, g.y2],
                    "vector": vectors.get(g.id),
                }
            )
        status = catalog_status(session)
    return {"photos": photos, "status": status}


# --- agreement -------------------------------------------------------------------------------


def iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def recall_at_1(photos: dict[str, Any]) -> float | None:
    """Same-product R@1 with each photo's first garment vector against every other photo's."""
    keys = [k for k, p in photos.items() if p["garments"] and p["garments"][0]["vector"]]
    if len(keys) < 2:
        return None
    vecs = np.asarray([photos[k]["garments"][0]["vector"] for k in keys], dtype=np.float32)
    products = [photos[k]["product"] for k in keys]
    counts: dict[str, int] = defaultdict(int)
    for p in products:
        counts[p] += 1
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    queries = [i for i, p in enumerate(products) if counts[p] > 1]
    if not queries:
        return None
    hits = sum(products[int(np.argmax(sims[i]))] == products[i] for i in queries)
    return round(hits / len(queries), 4)


def agreement(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """How close ``new``'s catalog is to ``old``'s, photo by photo."""
    same_shot = total = 0
    ious: list[float] = []
    cosines: list[float] = []
    garments_old = garments_new = unmatched = relabelled = 0
    for source, p in old["photos"].items():
        q = new["photos"].get(source)
        if q is None:
            continue
        total += 1
        same_shot += p["shot"] == q["shot"]
        garments_old += len(p["garments"])
        garments_new += len(q["garments"])
        for g in p["garments"]:
            # the same label first; else the closest box (a sure packshot is kept whole, under
            # the product's class, where the detector may have called it something else)
            candidates = [h for h in q["garments"] if h["label"] == g["label"]]
            if not candidates:
                relabelled += bool(q["garments"])
                candidates = q["garments"]
            best = max(candidates, key=lambda h: iou(g["box"], h["box"]), default=None)
            if best is None:
                unmatched += 1
                continue
            ious.append(iou(g["box"], best["box"]))
            if g["vector"] and best["vector"]:
                cosines.append(float(np.dot(g["vector"], best["vector"])))
    r_old, r_new = recall_at_1(old["photos"]), recall_at_1(new["photos"])
    return {
        "photos": total,
        "shot_labels_identical": round(same_shot / total, 4) if total else None,
        "garments": {
            "legacy": garments_old,
            "new": garments_new,
            "unmatched": unmatched,
            "other_label": relabelled,
        },
        "box_iou_mean": round(statistics.fmean(ious), 4) if ious else None,
        "box_iou_min": round(min(ious), 4) if ious else None,
        "cosine_mean": round(statistics.fmean(cosines), 4) if cosines else None,
        "cosine_min": round(min(cosines), 4) if cosines else None,
        "recall_at_1": {"legacy": r_old, "new": r_new},
        "status_identical": _status_core(old["status"]) == _status_core(new["status"]),
    }


def _status_core(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k not in ("data_dir",)}


# --- the driver ------------------------------------------------------------------------------


def spawn(
    engine: str,
    gallery: Path,
    data_dir: Path,
    onnx: Path | None,
    out: Path,
    before: Path | None = None,
) -> dict[str, Any]:
    """One run in its own process; ``before``: the earlier checkout that engine ``before``
    (its local engine) runs from."""
    run_as = "local" if engine in ("before", "f32") else engine
    cmd = [sys.executable, "-m", "benchmarks.ingest_bench", "--one", run_as]
    cmd += ["--gallery", str(gallery), "--data", str(data_dir), "--out", str(out)]
    if onnx is not None:
        cmd += ["--onnx", str(onnx)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODISTE_")}
    cwd = None
    if engine == "before":
        if before is None:
            raise SystemExit("engine 'before' needs --before CHECKOUT")
        cwd, env["PYTHONPATH"] = before, str(before / "src")
    if engine in ("legacy", "f32"):  # float32 on ONNX Runtime, as before step 11
        env["MODISTE_INFERENCE_PRECISION"] = "f32"
    if engine == "legacy":  # ONNX Runtime's pool threads spun before (onnx_runtime.cpu_session)
        env["MODISTE_INFERENCE_SPIN"] = "1"
        env["MODISTE_DETECTOR_MIRROR"] = "always"  # and the detector mirrored every photo
        env["MODISTE_SHOT_MIRROR"] = "always"  # as did the shot classifier (in its graph)
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} run failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def figures(run: dict[str, Any], n: int) -> dict[str, Any]:
    """Images/s end to end and per stage (stages that ran on every photo)."""
    return {
        "seconds": run["seconds"],
        "images_per_s": round(n / run["seconds"], 2),
        "stage_seconds": run["stages"],
        "stage_images_per_s": {
            k: round(n / v, 1) for k, v in run["stages"].items() if v and v > 0.05
        },
        "peak_rss_mb": run["peak_rss_mb"],
        "failures": run["failures"],
        **({"driver_writes": run["driver_writes"]} if run.get("driver_writes") else {}),
    }


# Run in the checkout whose head it exports (this one's or --before's: their heads may differ).
_EXPORT_REFINE = """
import sys
from pathlib import Path

from modiste.config import Settings
from modiste.gallery.classifier import create_shot_classifier

clf = create_shot_classifier(Settings(data_dir=Path(sys.argv[1])))
if getattr(clf, "refine_embedder", None) is not None:
    clf.refine_embedder.prepare()
"""


def export_refine_graph(data_dir: Path, checkout: Path | None = None) -> None:
    """Export the shot head's refine graph into ``data_dir``'s ONNX cache. The refine pass runs
    only for photos the head is unsure of, which the 4 warm-up photos may not hold, so no timed
    run pays that export (a user pays it once per data folder, at the first unsure photo).
    ``checkout``: an earlier checkout (``--before``), whose head's refine pass may be another."""
    env, cwd = dict(os.environ), None
    if checkout is not None:
        cwd, env["PYTHONPATH"] = checkout, str(checkout / "src")
    subprocess.run(
        [sys.executable, "-c", _EXPORT_REFINE, str(data_dir)], check=True, cwd=cwd, env=env
    )


def bench(
    n: int | None,
    rounds: int,
    engines: list[str],
    work: Path,
    before: Path | None = None,
    catalog: str = "magento",
) -> dict[str, Any]:
    source = catalog_gallery(catalog, work)
    gallery = work / "gallery.csv"
    photos = sample_gallery(source, n, gallery)
    warm = work / "warm"
    warm_gallery = work / "warm-gallery.csv"
    sample_gallery(source, 4, warm_gallery)
    spawn("local", warm_gallery, warm / "data", None, work / "warm.json")
    export_refine_graph(warm / "data")
    onnx = warm / "data" / "cache" / "onnx"
    if "legacy" in engines:  # its detector graph (the mirror pass inside) is another export
        spawn("legacy", warm_gallery, work / "warm-legacy" / "data", None, work / "warm.json")
        shutil.copytree(work / "warm-legacy" / "data" / "cache" / "onnx", onnx, dirs_exist_ok=True)
    if "before" in engines:  # its graphs may be others too
        warm_before = work / "warm-before" / "data"
        spawn("before", warm_gallery, warm_before, None, work / "warm.json", before)
        export_refine_graph(warm_before, before)
        shutil.copytree(warm_before / "cache" / "onnx", onnx, dirs_exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    last: dict[str, dict[str, Any]] = {}
    for r in range(rounds):
        for engine in engines:
            data = work / f"{engine}-{r}" / "data"
            result = spawn(engine, gallery, data, onnx, work / f"{engine}-{r}.json", before)
            runs[engine].append(figures(result, photos))
            last[engine] = result
            shutil.rmtree(data.parent, ignore_errors=True)
    base = engines[0]
    out: dict[str, Any] = {
        "catalog": catalog,
        "photos": photos,
        "rounds": rounds,
        "engines": {e: runs[e] for e in engines},
    }
    for engine in engines[1:]:
        ratios = [
            b["seconds"] / a["seconds"] for a, b in zip(runs[engine], runs[base], strict=True)
        ]
        out[f"speedup_{engine}"] = {
            "median": round(statistics.median(ratios), 2),
            "per_round": [round(x, 2) for x in ratios],
        }
        out[f"agreement_{engine}"] = agreement(last[base], last[engine])
    for ref in ("before", "f32"):  # this checkout's local against the earlier code, or float32
        if ref not in engines or "local" not in engines or base == ref:
            continue
        ratios = [
            b["seconds"] / a["seconds"] for a, b in zip(runs["local"], runs[ref], strict=True)
        ]
        out[f"speedup_local_vs_{ref}"] = {
            "median": round(statistics.median(ratios), 2),
            "per_round": [round(x, 2) for x in ratios],
        }
        out[f"agreement_local_vs_{ref}"] = agreement(last[ref], last["local"])
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    return out


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=120, help="photos (whole products, seeded)")
    parser.add_argument("--all", action="store_true", help="every photo (Magento: 342)")
    parser.add_argument(
        "--catalog",
        choices=CATALOGS,
        default="magento",
        help="Magento model shots, or Myntra packshots (fashion_products: a marketplace feed)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per engine")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated; the first is the baseline"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="an earlier checkout (git worktree); adds engine 'before', its local engine",
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="write the result here")
    # one run in this process (what the driver spawns)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--gallery", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        one_run(args.one, args.gallery, args.data, args.onnx, args.out)
        return None
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.before is not None and "before" not in engines:
        engines.append("before")
    n = None if args.all else args.n
    with work_dir(args.work, "modiste-ingest-bench-") as work:
        result = bench(n, args.rounds, engines, work, args.before, args.catalog)
    text = json.dumps(result, indent=1)
    print(text)
    write_result(args.json, text)
    return result


if __name__ == "__main__":
    main()
