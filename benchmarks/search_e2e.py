"""Street photo -> catalog packshots through the product itself: the real ingest, the real search.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.search_e2e --json
benchmarks/results/search_e2e_packshots.json`` (~5 CPU-min: an ingest of 708 photos, 300 queries).

``modiste eval retrieval --queries Q.csv --gallery G.csv`` embeds each catalog photo whole and
each street crop from its annotated box. A shop meets the feature otherwise: its catalog photos
go through ``modiste ingest`` (shots, the garment detector, crops, the index), and a shopper's
photo through ``SearchService.search_image`` (the detector again, narrowing to the garment's
class, the relevance floor). This benchmark builds the same street -> catalog sets
(``build_sets crossdomain --catalog fashion_products``, seed 0), imports the catalog side as a
feed into a fresh data folder, ingests it with the local engine and asks the search service,
three ways per query:

* ``shopper``: the whole street photo to ``search_image``; the detected garment that overlaps the
  annotated box (IoU >= 0.5) is the one a shopper would pick. When none does, the shopper draws
  the box: its crop is searched without a class (``search_vector``).
* ``box_with_class``: the annotated box's crop, narrowed to its true class (a perfect detector).
* ``box_without_class``: the annotated box's crop, not narrowed.

Precision@10 counts catalog products of the query's category among ten slots (a slot the
relevance floor leaves empty counts as a miss); ``floor_off`` gives every slot a hit.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import ingest_bench
from benchmarks.harness import DATASETS
from benchmarks.output import write_result

ROUTES = ("shopper", "box_with_class", "box_without_class")
PICK_IOU = 0.5


def catalog_gallery(sets: Path, work: Path, limit: int | None) -> tuple[Path, dict[str, str]]:
    """G.csv's photos, in its order, as a gallery CSV of their Myntra products (the rows
    ``ingest_bench`` writes for the whole catalog); returns it and product id -> label."""
    with ingest_bench.catalog_gallery("fashion_products", work).open(encoding="utf-8") as fh:
        catalog = {r["image_path"]: r for r in csv.DictReader(fh)}
    with (sets / "G.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if limit:
        rows = rows[:: max(1, len(rows) // (3 * limit))]
    picked = [(catalog[str((sets / r["image_path"]).resolve())], r["label"]) for r in rows]
    out = work / "gallery.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(picked[0][0]))
        writer.writeheader()
        writer.writerows(row for row, _ in picked)
    return out, {row["product_id"]: label for row, label in picked}


def iou(a: Any, b: Any) -> float:
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = w * h
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def run_queries(
    svc: Any, queries: list[dict[str, str]], sets: Path, label_of: dict[str, str]
) -> dict[str, Any]:
    """Precision@10 per route and query label, and how often the detector offered the garment."""
    from sqlalchemy import select

    from modiste.catalog.schema import ProductRow
    from modiste.domain import Box, Garment
    from modiste.imaging import decode_image
    from modiste.search.crops import crop_garments
    from modiste.search.visual import QUERY_MARGIN

    with svc.db.session() as session:
        external = dict(session.execute(select(ProductRow.id, ProductRow.external_id)).all())
    per: dict[str, dict[str, list[float]]] = {r: defaultdict(list) for r in ROUTES}
    slots: dict[str, list[int]] = {r: [] for r in ROUTES}
    picked = 0
    for q in queries:
        image = decode_image((sets / q["image_path"]).resolve()).image.convert("RGB")
        box = Box(*(float(q[k]) for k in ("x1", "y1", "x2", "y2")))
        crop = crop_garments(image, [Garment(q["label"], 1.0, box)], QUERY_MARGIN, min_side=1)
        vector = svc.embedder.embed([crop[0].image], use="photo")[0]
        floor = svc.settings.search_min_score_photo
        found = svc.search_image(image, k=10)
        best = max(found, key=lambda o: iou(o.box, box))
        if iou(best.box, box) >= PICK_IOU:
            picked += 1
            shopper = best.hits
        else:
            shopper = svc.search_vector(vector, k=10, floor=floor)
        hits = {
            "shopper": shopper,
            "box_with_class": svc.search_vector(vector, k=10, label=q["label"], floor=floor),
            "box_without_class": svc.search_vector(vector, k=10, floor=floor),
        }
        for route, got in hits.items():
            good = sum(label_of.get(external[h.product_id]) == q["label"] for h in got[:10])
            per[route][q["label"]].append(good / 10)
            slots[route].append(min(10, len(got)))
    out: dict[str, Any] = {"queries": len(queries), "detector_offered_the_garment": picked}
    for route in ROUTES:
        values = [v for vs in per[route].values() for v in vs]
        out[route] = {
            "precision_at_10": round(float(np.mean(values)), 4),
            "per_label": {k: round(float(np.mean(v)), 4) for k, v in sorted(per[route].items())},
            "mean_hits": round(float(np.mean(slots[route])), 2),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.search_e2e")
    ap.add_argument("--seed", type=int, default=0, help="the street -> catalog sets' seed")
    ap.add_argument("--limit", type=int, default=None, help="about this many queries (smoke)")
    ap.add_argument("--work", type=Path, default=None, help="sets, feed and data folder go here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not DATASETS.exists():
        raise SystemExit(f"needs {DATASETS}")

    from sqlalchemy import select

    from modiste.catalog.schema import GarmentRow
    from modiste.evaluation.build_sets import build_crossdomain
    from modiste.search.visual import create_search_service

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        sets = work / "crossdomain"
        build_crossdomain(DATASETS, sets, seed=args.seed, catalog="fashion_products")
        gallery, label_of = catalog_gallery(sets, work, args.limit)
        settings, db, summary, seconds = ingest_bench.ingest_gallery(
            "local", gallery, work / "data"
        )
        if summary.failures:
            raise SystemExit(f"ingest failed on {len(summary.failures)} photos")
        with (sets / "Q.csv").open(newline="", encoding="utf-8") as fh:
            queries = list(csv.DictReader(fh))
        if args.limit:
            queries = queries[:: max(1, len(queries) // args.limit)]
        with db.session() as session:
            indexed = Counter(
                session.scalars(select(GarmentRow.label).where(GarmentRow.indexed.is_(True)))
            )
        result: dict[str, Any] = {
            "catalog_photos": len(label_of),
            "catalog_labels": dict(Counter(label_of.values())),
            "ingest_seconds": round(seconds, 1),
            "indexed_garments": dict(indexed.most_common()),
            "pick_iou": PICK_IOU,
        }
        for name, floor in (("floor_on", settings.search_min_score_photo), ("floor_off", -1.0)):
            svc = create_search_service(
                settings.model_copy(update={"search_min_score_photo": floor}), db
            )
            result[name] = {"floor": floor, **run_queries(svc, queries, sets, label_of)}
        db.dispose()
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
