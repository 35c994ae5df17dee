"""End-to-end latency of a photo query: decode + detect + embed (per garment) + index search.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.search_bench [--threads 2] [--n 20000]``.
The index holds ``--n`` random unit vectors (FAISS, the default backend; the search cost depends
on the count, not on the content) with catalog-like payloads, and a SQLite catalog in ``--work``
holds their products (one per vector), because search checks every hit against the catalog as a
user's query does. Queries are CCP street photos when ../shared/datasets exists (else seeded
random JPEGs). Reports median and p90 per step, in ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.output import write_result

if TYPE_CHECKING:
    from modiste.catalog.db import Database
    from modiste.config import Settings

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
LABELS = ["top", "bottom", "outerwear", "dress", "footwear"]


def _query_bytes(n: int) -> list[bytes]:
    paths = sorted((DATASETS / "ccp_street" / "images").glob("*.jpg"))[:n]
    if paths:
        return [p.read_bytes() for p in paths]
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (600, 400, 3), dtype=np.uint8)).save(buf, "JPEG")
        out.append(buf.getvalue())
    return out


def _products(n: int) -> Iterator[list[dict[str, Any]]]:
    """Catalog rows in blocks of 5,000; ids from 1, as SQLite numbers them."""
    for start in range(1, n + 1, 5000):
        yield [
            {
                "id": i,
                "seller_id": 1,
                "external_id": f"p{i}",
                "title": f"P{i}",
                "product_type": "tops",
                "gender": "women",
                "price": float(i % 90),
            }
            for i in range(start, min(n, start + 4999) + 1)
        ]


def build_catalog(settings: Settings, n: int) -> Database:
    """A fresh SQLite catalog of ``n`` products (bulk insert: no feed import, no images)."""
    from sqlalchemy import insert

    from modiste.catalog.db import Database
    from modiste.catalog.schema import ProductRow, Seller

    db = Database(settings)
    db.migrate()
    with db.session() as session:
        session.execute(insert(Seller).values(id=1, name="s"))
        for rows in _products(n):
            session.execute(insert(ProductRow), rows)
    return db


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=20_000, help="vectors (and products) in the index")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/modiste-cache/search_bench"),
        help="data folder: the bench catalog (rebuilt each run) and the models' ONNX cache",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ["MODISTE_INFERENCE_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from modiste.config import Settings
    from modiste.imaging import decode_image
    from modiste.index import create_index
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.search.crops import crop_garments
    from modiste.search.visual import QUERY_MARGIN, SearchService, load_detector

    catalog = args.work / "bench-catalog.db"
    for stale in args.work.glob("bench-catalog.db*"):  # the last run's catalog, WAL included
        stale.unlink()
    settings = Settings(data_dir=args.work, database_url=f"sqlite:///{catalog}")
    db = build_catalog(settings, args.n)
    embedder = create_crop_embedder(settings)
    detector = load_detector(settings)
    rng = np.random.default_rng(0)
    index = create_index("faiss", embedder.dim, None)
    for rows in _products(args.n):
        vecs = rng.normal(size=(len(rows), embedder.dim)).astype(np.float32)
        pays = [
            {
                "product_id": r["id"],
                "image_id": r["id"],
                "label": LABELS[r["id"] % 5],
                "product_type": r["product_type"],
                "gender": r["gender"],
                "seller": "s",
                "price": r["price"],
            }
            for r in rows
        ]
        index.add([r["id"] for r in rows], vecs, pays)
    service = SearchService(settings, db, index, embedder, detector)
    steps: dict[str, list[float]] = {
        k: [] for k in ("decode", "detect", "embed", "search", "total")
    }
    data = _query_bytes(args.queries)
    service.search_image(decode_image(data[0]).image, None, 12)  # warm-up: ONNX sessions
    n_objects: list[int] = []
    n_hits: list[int] = []  # products per garment: 0 would mean the catalog check refused all
    for raw in data:
        t0 = time.perf_counter()
        image = decode_image(raw, draft_size=1024).image
        t1 = time.perf_counter()
        garments = service.detect(image)
        t2 = time.perf_counter()
        crops = crop_garments(image, garments, QUERY_MARGIN, min_side=1)
        vecs = embedder.embed([c.image for c in crops], use="photo")  # as search_image does
        t3 = time.perf_counter()
        hits = [
            service.search_vector(v, None, 12, label=c.category)
            for c, v in zip(crops, vecs, strict=True)
        ]
        t4 = time.perf_counter()
        n_objects.append(len(crops))
        n_hits.extend(len(h) for h in hits)
        for k, v in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            steps[k].append(v * 1000)
    report = {
        "threads": args.threads,
        "index_vectors": args.n,
        "dim": embedder.dim,
        "detector": type(detector).__name__ if detector else "none (whole image)",
        "queries": len(data),
        "mean_objects": float(np.mean(n_objects)),
        "mean_hits_per_object": float(np.mean(n_hits)),
        **{
            f"{k}_ms": {
                "median": round(float(np.median(v)), 1),
                "p90": round(float(np.percentile(v, 90)), 1),
            }
            for k, v in steps.items()
        },
    }
    print(json.dumps(report, indent=2))
    write_result(args.json, json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
