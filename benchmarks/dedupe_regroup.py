"""Catalog regroup cost: verifying only new images against stored pairs vs verifying all.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.dedupe_regroup --datasets ../shared/datasets \\
        --json benchmarks/results/dedupe_regroup.json

A SQLite catalog is filled with ``--n`` real photos (clothing_dataset and magento_luma, each
its own product, spread over five sellers) and their fingerprints, and grouped once. Then
``--new`` images arrive (half altered copies of stored photos from another seller, half
unseen photos) and three timings are taken on the same catalog, in one run:

- ``first``: the first regroup, every image verified (what every ingest cost before pairs
  were stored);
- ``incremental``: the regroup after the new images, which verifies only them;
- ``recompute``: the same catalog after ``forget_matches`` (``modiste dedupe --recompute``),
  every image verified again, and it must find the same groups.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image
from rich.progress import track
from sqlalchemy import select

from benchmarks.make_dedupe_set import alter
from benchmarks.output import write_result
from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow
from modiste.catalog.importer import import_rows
from modiste.catalog.schema import DuplicateGroup, ImageRow
from modiste.cleaning.catalog_dedupe import forget_matches, rebuild_groups, to_row
from modiste.config import Settings
from modiste.imaging.hashes import fingerprint_file

log = logging.getLogger("benchmarks.dedupe_regroup")
SELLERS = 5


def photos(datasets: Path) -> list[Path]:
    out = sorted((datasets / "clothing_dataset").rglob("*.jpg"))
    out += sorted((datasets / "magento_luma").rglob("*.jpg"))
    return out


def add_images(db: Database, rows: list[FeedRow], data: dict[str, bytes]) -> None:
    """Import products and store each image's fingerprint as the dedupe stage would."""
    import_rows(db, rows, source="bench")
    with db.session() as session:
        images = session.scalars(select(ImageRow).where(ImageRow.status != "stored")).all()
        for img in track(images, description="fingerprints"):
            fp = fingerprint_file(data[img.source])
            img.status, img.content_hash = "stored", fp.sha256
            session.merge(to_row(img.id, fp))


def regroup(db: Database) -> tuple[float, dict[str, Any]]:
    with db.session() as session:
        t0 = time.perf_counter()
        report = rebuild_groups(session)
        seconds = time.perf_counter() - t0
    with db.session() as session:
        kinds = sorted(
            (g.kind, tuple(sorted((m.product_id, m.image_id) for m in g.members)))
            for g in session.scalars(select(DuplicateGroup))
        )
    summary = {"images": report.images, "verified": report.compared, "groups": report.groups}
    return seconds, {**summary, "_groups": kinds}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--n", type=int, default=5700, help="stored photos")
    ap.add_argument("--new", type=int, default=20, help="photos arriving in the later ingest")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/dedupe_regroup.json"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    rng = random.Random(args.seed)
    pool = photos(args.datasets)
    need = args.n + args.new // 2
    if len(pool) < need:
        ap.error(f"{args.datasets}: {len(pool)} photos, --n + --new/2 needs {need}")
    rng.shuffle(pool)
    stored, unseen = pool[: args.n], pool[args.n : args.n + args.new // 2]
    data = {str(p): p.read_bytes() for p in stored + unseen}
    rows = [
        FeedRow(
            line=i,
            external_id=f"p{i}",
            title=p.stem,
            seller=f"shop{i % SELLERS}",
            price=float(10 + i % 90),
            images=[str(p)],
        )
        for i, p in enumerate(stored)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Settings(data_dir=Path(tmp)))
        db.migrate()
        add_images(db, rows, data)
        first_s, first = regroup(db)
        log.info("first regroup: %.2f s, verified %d", first_s, first["verified"])

        later: list[FeedRow] = []
        for j, p in enumerate(rng.sample(stored, args.new - len(unseen))):
            copy, quality, _ = alter(Image.open(p).convert("RGB"), "resize", rng)
            path = Path(tmp) / f"copy{j}.jpg"
            copy.save(path, "JPEG", quality=quality)
            data[str(path)] = path.read_bytes()
            i = stored.index(p)
            later.append(FeedRow(line=args.n + j, external_id=f"copy{j}", title=p.stem,
                                 seller=f"shop{(i + 1) % SELLERS}", price=9.0,
                                 images=[str(path)]))  # fmt: skip
        for j, p in enumerate(unseen):
            later.append(FeedRow(line=2 * args.n + j, external_id=f"new{j}", title=p.stem,
                                 seller="shop0", images=[str(p)]))  # fmt: skip
        add_images(db, later, data)
        inc_s, inc = regroup(db)
        log.info("incremental regroup: %.2f s, verified %d", inc_s, inc["verified"])

        with db.session() as session:
            forget_matches(session)
        full_s, full = regroup(db)
        log.info("recompute: %.2f s, verified %d", full_s, full["verified"])
        same = inc["_groups"] == full["_groups"]
        db.dispose()

    result = {
        "n_stored": args.n,
        "n_new": args.new,
        "first_regroup_s": round(first_s, 2),
        "incremental_regroup_s": round(inc_s, 2),
        "recompute_regroup_s": round(full_s, 2),
        "recompute_over_incremental": round(full_s / inc_s, 1),
        "incremental": {k: v for k, v in inc.items() if not k.startswith("_")},
        "recompute": {k: v for k, v in full.items() if not k.startswith("_")},
        "same_groups": same,
    }
    write_result(args.json, json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
