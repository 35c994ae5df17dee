"""How often a photo's colour name matches the Magento colour labels (issue #14 item 8).

Run: ``python -m benchmarks.colour_names --json benchmarks/results/colour_names.json``
(a few CPU-seconds). The hue edges of :mod:`modiste.models.colour_names` were picked on the
validation half of the styles (``grouped_split`` seed 0); this reports both halves, per photo and
per product (the most common name of its photos, as the "colour" ingest stage stores it), with
the share of photos given no name.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.colour_names")
    ap.add_argument("--limit", type=int, default=None, help="first N photos only (smoke)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    from PIL import Image

    from modiste.evaluation.retrieval import grouped_split
    from modiste.models.colour_names import colour_name
    from modiste.search.colour_stage import product_colour

    path = DATASETS / "magento_luma" / "gallery.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[: args.limit]
    names = [colour_name(Image.open(path.parent / r["image_path"])) for r in rows]
    val, test = grouped_split([r["style_id"] for r in rows], 0.5, 0)
    result: dict[str, object] = {"photos": len(rows)}
    for half, mask in (("validation", val), ("test", test)):
        picked = [(r, n) for r, n, m in zip(rows, names, mask, strict=True) if m]
        per_product: dict[str, dict[str, str | None]] = defaultdict(dict)
        truth = {}
        for i, (r, n) in enumerate(picked):
            per_product[r["product_id"]][str(i)] = n
            truth[r["product_id"]] = r["color"]
        products = {p: product_colour(c) for p, c in per_product.items()}
        result[half] = {
            "photo_accuracy": round(sum(r["color"] == n for r, n in picked) / len(picked), 3),
            "photo_unnamed": round(sum(n is None for _, n in picked) / len(picked), 3),
            "product_accuracy": round(
                sum(products[p] == truth[p] for p in products) / len(products), 3
            ),
            "n_photos": len(picked),
            "n_products": len(products),
        }
    confusions = Counter(
        (r["color"], n) for r, n in zip(rows, names, strict=True) if r["color"] != n
    )
    result["top_confusions"] = [f"{a} -> {b}: {c}" for (a, b), c in confusions.most_common(6)]
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
