"""Backup, restore and the missing-originals check on a synthetic catalog.

Usage::

    python -m benchmarks.backup_bench --n 20000 --json benchmarks/results/backup.json

A SQLite catalog of ``--n`` stored images (one product each, random ``--kb`` KiB files in the
content-addressed store, so nothing is decoded) is built in a temp folder. Timed, once each:

- ``check``: :func:`modiste.catalog.repository.missing_originals`, the stat per image that
  ``modiste status`` and every ingest now pay (warm page cache, as on a live server);
- ``backup``: ``create_backup`` (online SQLite copy + integrity check + every file hashed);
- ``restore``: ``restore_backup`` into a new folder (every file hashed again, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.output import write_result
from modiste.catalog.backup import create_backup, restore_backup
from modiste.catalog.db import Database
from modiste.catalog.repository import missing_originals
from modiste.catalog.schema import ImageRow, ProductRow, Seller
from modiste.config import Settings
from modiste.imaging.store import ImageStore, sha256_bytes


def build(settings: Settings, n: int, kb: int) -> int:
    """Fill the catalog and the store; the bytes written."""
    db = Database(settings)
    db.migrate()
    store = ImageStore(settings.images_dir)
    written = 0
    with db.session() as s:
        s.execute(insert(Seller).values(id=1, name="bench"))
        for start in range(0, n, 1000):
            ids = range(start + 1, min(n, start + 1000) + 1)
            s.execute(
                insert(ProductRow),
                [{"id": i, "seller_id": 1, "external_id": f"p{i}", "title": f"P{i}"} for i in ids],
            )
            rows = []
            for i in ids:
                data = os.urandom(kb * 1024)
                written += len(data)
                digest = sha256_bytes(data)
                path = store.path_for(digest)  # not store.put: no fsync per file here
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                rows.append(
                    {
                        "id": i,
                        "product_id": i,
                        "source": f"https://shop.example/{i}.jpg",
                        "content_hash": digest,
                        "status": "stored",
                        "bytes": len(data),
                    }
                )
            s.execute(insert(ImageRow), rows)
    db.dispose()
    return written


def run(n: int, kb: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="modiste-backup-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root / "data")
        written = build(settings, n, kb)
        db = Database(settings)
        store = ImageStore(settings.images_dir)
        started = time.perf_counter()
        with db.session() as s:
            missing = missing_originals(s, store.exists)
        check_s = time.perf_counter() - started
        db.dispose()
        assert not missing

        started = time.perf_counter()
        report = create_backup(settings, root / "backup")
        backup_s = time.perf_counter() - started
        started = time.perf_counter()
        restored = restore_backup(Settings(data_dir=root / "restored"), root / "backup")
        restore_s = time.perf_counter() - started
    mib = report.bytes / 2**20
    return {
        "images": n,
        "kib_per_image": kb,
        "image_mib": round(written / 2**20, 1),
        "backup_files": report.files,
        "backup_mib": round(mib, 1),
        "check_s": round(check_s, 3),
        "check_us_per_image": round(check_s / n * 1e6, 2),
        "backup_s": round(backup_s, 2),
        "backup_mib_s": round(mib / backup_s, 1),
        "restore_s": round(restore_s, 2),
        "restore_mib_s": round(mib / restore_s, 1),
        "restored_files": restored.files,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=20000, help="stored images")
    parser.add_argument("--kb", type=int, default=8, help="KiB per image file")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    result = run(args.n, args.kb)
    print(json.dumps(result, indent=1))
    write_result(args.json, json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
