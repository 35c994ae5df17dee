"""Capacity figures per backend, measured on a small run, for docs/capacity.md.

Three parts, each small enough for a shared 2-core box:

1. ``ingest``: the whole pipeline (local backends: SQLite, FAISS, files) on ``--photos`` real
   Magento photos (whole products; the demo catalog without ../shared/datasets): seconds,
   images/s, peak RSS, garments per image, bytes per original, crop, thumbnail, catalog row and
   index entry.
2. ``catalog``: that catalog's rows cloned until ``--scale-images`` images (products, images,
   stage outcomes, shots, garments, fingerprints; text indexes kept by their triggers), on
   SQLite and, with ``--postgres-url``, on PostgreSQL: bytes per image with every index, the
   text index alone, and text search p50 at that size.
3. ``store``: put and get per original, local files against S3 (moto in this process unless
   ``--s3-endpoint``; moto is a Python server, so its figures bound the client's cost only).

    python -m benchmarks.capacity_bench --photos 60 --scale-images 20000 \
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/capacity \
        --json benchmarks/results/capacity.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import DATASETS
from benchmarks.output import write_result

CLONED = ("products", "images", "image_stages", "shot_predictions", "garments",
          "image_fingerprints")  # fmt: skip
QUERIES = ("jacket", "women hoodie", "パンツ", "black tee", "yoga pants", "bag")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _gallery(work: Path, photos: int) -> Path:
    """A gallery CSV of whole Magento products, ``photos`` photos or a few more."""
    import csv
    from collections import defaultdict

    source = DATASETS / "magento_luma" / "gallery.csv"
    with source.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_product: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        row["image_path"] = str((source.parent / row["image_path"]).resolve())
        by_product[row["product_id"]].append(row)
    import random

    products = sorted(by_product)
    random.Random(0).shuffle(products)  # a mix of categories, not the first (bags) in id order
    picked: list[dict[str, str]] = []
    for pid in products:
        if len(picked) >= photos:
            break
        picked += by_product[pid]
    out = work / "gallery.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(picked)
    return out


def _describe(db: Any, gallery: Path) -> None:
    """Give each product its style's description from products.csv, as a real feed would
    (gallery rows carry none; the text index's size depends on it)."""
    import csv

    from sqlalchemy import update

    from modiste.catalog.schema import ProductRow

    styles = DATASETS / "magento_luma" / "products.csv"
    with styles.open(newline="", encoding="utf-8") as fh:
        described = {r["style_id"]: r["description"] for r in csv.DictReader(fh)}
    with gallery.open(newline="", encoding="utf-8") as fh:
        style_of = {r["product_id"]: r["style_id"] for r in csv.DictReader(fh)}
    with db.session() as s:
        for product, style in style_of.items():
            if described.get(style):
                s.execute(
                    update(ProductRow)
                    .where(ProductRow.external_id == product)
                    .values(description=described[style])
                )


def ingest_part(work: Path, photos: int) -> tuple[dict[str, Any], Any, Any]:
    """Run the whole pipeline on real photos; sizes per image and per garment."""
    from sqlalchemy import func, select

    from modiste.catalog.db import Database
    from modiste.catalog.importer import import_feed
    from modiste.catalog.schema import GarmentRow, ImageRow
    from modiste.config import Settings
    from modiste.imaging.store import ImageStore
    from modiste.pipeline.ingest import run_ingest
    from modiste.search.indexing import index_dir

    data = work / "data"
    if (DATASETS / "magento_luma").is_dir():
        from modiste.catalog.gallery_feed import gallery_to_feed

        settings = Settings(data_dir=data, feed_file_roots=[DATASETS])
        feeds = [work / "feed.csv"]
        gallery_to_feed(_gallery(work, photos), feeds[0])
        source = "magento_luma"
    else:
        from modiste.cli.demo import DEMO_FEEDS, demo_catalog_dir

        settings = Settings(data_dir=data)
        feeds = [demo_catalog_dir() / name for name in DEMO_FEEDS]
        source = "demo catalog"
    db = Database(settings)
    db.migrate()
    for feed in feeds:
        import_feed(db, feed)
    if source == "magento_luma":
        _describe(db, work / "gallery.csv")
    started = time.perf_counter()
    summary = run_ingest(settings, db)
    seconds = time.perf_counter() - started
    with db.session() as s:
        hashes = set(s.scalars(select(ImageRow.content_hash).where(ImageRow.status == "stored")))
        crops = set(s.scalars(select(GarmentRow.crop_hash).where(GarmentRow.crop_hash.isnot(None))))
        images = int(s.scalar(select(func.count()).select_from(ImageRow)) or 0)
        garments = int(s.scalar(select(func.count()).select_from(GarmentRow)) or 0)
    store = ImageStore(settings.images_dir)
    originals = sum(store.path_for(h).stat().st_size for h in hashes if h)
    crop_bytes = sum(store.path_for(h).stat().st_size for h in crops if h)
    thumbs = {size: sum(store.thumbnail(h, size).stat().st_size for h in hashes if h)
              for size in (256, 512)}  # fmt: skip
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = max(len(hashes), 1)
    result = {
        "source": source,
        "images": images,
        "stored": len(hashes),
        "garments": garments,
        "garments_per_image": round(garments / stored, 2),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(hashes) / seconds, 2),
        "stage_seconds": {st.name: st.seconds for st in summary.stages},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bytes_per_original": round(originals / stored),
        "bytes_per_crop": round(crop_bytes / max(len(crops), 1)),
        "bytes_per_thumbnail": {str(k): round(v / stored) for k, v in thumbs.items()},
        "faiss_bytes_per_garment": round(_dir_bytes(index_dir(settings)) / max(garments, 1)),
        "sqlite_bytes_small": (settings.resolved_data_dir / "modiste.db").stat().st_size,
        "load": os.getloadavg()[0],
    }
    return result, settings, db


def _clone(conn: Any, copies: int) -> None:
    """Insert ``copies`` copies of the rows of :data:`CLONED`, ids shifted, products renamed."""
    from sqlalchemy import literal, select

    from modiste.catalog.schema import Base

    for k in range(1, copies + 1):
        off = k * 1_000_000
        for name in CLONED:
            table = Base.metadata.tables[name]
            cols: list[Any] = []
            for col in table.columns:
                if col.name in ("id", "product_id", "image_id"):
                    cols.append((col + off).label(col.name))
                elif col.name == "external_id":
                    cols.append((col + literal(f"~{k}")).label(col.name))
                else:
                    cols.append(col)
            base = select(*cols).where(
                (table.c.id if "id" in table.c else table.c.image_id) < 1_000_000
            )
            conn.execute(table.insert().from_select([c.name for c in table.columns], base))


def _copy_rows(src: Any, dst: Any) -> None:
    """Every row of the cloned tables (and their sellers) from one database to another."""
    from sqlalchemy import select

    from modiste.catalog.schema import Base

    with src.connect() as a, dst.begin() as b:
        for name in ("sellers", *CLONED):
            table = Base.metadata.tables[name]
            rows = [dict(r._mapping) for r in a.execute(select(table))]
            if rows:
                b.execute(table.insert(), rows)


def _text_p50(db: Any) -> float:
    from modiste.search.synonyms import load_synonyms
    from modiste.search.text import TextSearch

    search, times = TextSearch(load_synonyms()), []
    with db.session() as s:
        for _ in range(3):
            for q in QUERIES:
                t = time.perf_counter()
                search.search(s, q)
                times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def catalog_part(
    settings: Any, db: Any, scale_images: int, postgres_url: str | None
) -> dict[str, Any]:
    """Clone the small catalog to ``scale_images`` images; bytes per image on each database."""
    from sqlalchemy import func, select, text

    from modiste.catalog.db import Database
    from modiste.catalog.schema import ImageRow, ProductRow

    with db.session() as s:
        base = int(s.scalar(select(func.count()).select_from(ImageRow)) or 1)
        products = int(s.scalar(select(func.count()).select_from(ProductRow)) or 0)
        text_chars = s.scalar(
            select(func.avg(func.length(ProductRow.title) + func.length(ProductRow.description)))
        )
    copies = max(0, scale_images // base - 1)
    out: dict[str, Any] = {
        "images": base * (copies + 1),
        "products": products * (copies + 1),
        "copies": copies,
        "mean_title_and_description_chars": round(float(text_chars or 0)),
    }
    started = time.perf_counter()
    if postgres_url:
        pg = Database(settings.model_copy(update={"database_url": postgres_url}))
        pg.migrate()
        _copy_rows(db.engine, pg.engine)
    with db.engine.begin() as conn:
        _clone(conn, copies)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        fts = conn.execute(
            text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'products_fts%'")
        ).scalar()
        tables = conn.execute(
            text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6")
        ).all()
    size = (settings.resolved_data_dir / "modiste.db").stat().st_size
    out["sqlite"] = {
        "seconds_to_fill": round(time.perf_counter() - started, 1),
        "bytes": size,
        "bytes_per_image": round(size / out["images"]),
        "fts5_bytes_per_image": round(int(fts or 0) / out["images"]),
        "largest_per_image": {str(n): round(int(b) / out["images"]) for n, b in tables},
        "text_search_p50_ms": _text_p50(db),
    }
    if postgres_url:
        started = time.perf_counter()
        with pg.engine.begin() as conn:
            _clone(conn, copies)
        with pg.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            size = int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
            )
            empty = int(conn.execute(text("SELECT pg_database_size('template1')")).scalar() or 0)
            trgm_sql = "SELECT pg_relation_size('ix_products_search_trigrams')"
            trgm = int(conn.execute(text(trgm_sql)).scalar() or 0)
        out["postgresql"] = {
            "seconds_to_fill": round(time.perf_counter() - started, 1),
            "bytes": size - empty,
            "bytes_per_image": round((size - empty) / out["images"]),
            "trigram_index_bytes_per_image": round(trgm / out["images"]),
            "text_search_p50_ms": _text_p50(pg),
        }
        pg.dispose()
    return out


def store_part(work: Path, settings: Any, db: Any, s3_endpoint: str | None) -> dict[str, Any]:
    """Put and get each original into a fresh local store and a fresh S3 bucket."""
    from sqlalchemy import select

    from modiste.catalog.schema import ImageRow
    from modiste.imaging.s3_store import S3ImageStore
    from modiste.imaging.store import ImageStore

    with db.session() as s:
        hashes = [h for h in s.scalars(select(ImageRow.content_hash).distinct()) if h]
    source = ImageStore(settings.images_dir)
    blobs = [source.get(h) for h in hashes[:50]]
    server = None
    try:
        import boto3
    except ImportError:
        return {"objects": len(blobs), "skipped": "boto3 not installed (pip install 'modiste[s3]')"}
    if s3_endpoint is None:
        from moto.server import ThreadedMotoServer

        from benchmarks.harness import free_port

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        s3_endpoint = f"http://127.0.0.1:{port}"
        for key, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
            os.environ.setdefault(key, value)
    try:
        boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
            Bucket="capacity"
        )
        stores = {
            "local": ImageStore(work / "store-bench" / "images"),
            "s3": S3ImageStore("s3://capacity/bench", endpoint_url=s3_endpoint,
                               images_dir=work / "unused", thumbs_root=work / "thumbs"),
        }  # fmt: skip
        out: dict[str, Any] = {"objects": len(blobs), "s3_endpoint": "moto" if server else "given"}
        for name, store in stores.items():
            t = time.perf_counter()
            keys = [store.put(b) for b in blobs]
            put = (time.perf_counter() - t) * 1000 / len(blobs)
            t = time.perf_counter()
            for k in keys:
                store.get(k)
            get = (time.perf_counter() - t) * 1000 / len(blobs)
            out[name] = {"put_ms": round(put, 2), "get_ms": round(get, 2)}
        return out
    finally:
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=60, help="Real photos ingested (whole products).")
    ap.add_argument("--scale-images", type=int, default=20000, help="Images after cloning rows.")
    ap.add_argument("--postgres-url", help="An empty PostgreSQL database for the catalog part.")
    ap.add_argument("--s3-endpoint", help="An S3 endpoint with credentials in AWS_*; else moto.")
    ap.add_argument("--work", type=Path, help="Working folder (default: a temp folder).")
    ap.add_argument("--json", type=Path, help="Write the result here.")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="modiste-capacity-"))
    work.mkdir(parents=True, exist_ok=True)
    ingest, settings, db = ingest_part(work, args.photos)
    result = {
        "ingest": ingest,
        "store": store_part(work, settings, db, args.s3_endpoint),
        "catalog": catalog_part(settings, db, args.scale_images, args.postgres_url),
        "machine": f"{os.uname().machine}, {os.cpu_count()} CPUs",
    }
    db.dispose()
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    write_result(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
