"""Turn a labelled gallery CSV (product_id, image_path, ...) into a product feed.

The evaluation sets use the gallery format; this lets the same photos be imported as a catalog
(for an end-to-end check, or a demo) without hand-writing a feed.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from pathlib import Path

from modiste.errors import FeedError
from modiste.exports import SafeDictWriter, restore_row

_CARRY = ("title", "gender", "category", "color", "style_id", "brand", "price", "seller")


def gallery_to_feed(gallery_csv: Path, out: Path, *, absolute_paths: bool = True) -> int:
    """Write a feed CSV with one row per product; returns the number of products."""
    gallery_csv = Path(gallery_csv)
    products: OrderedDict[str, dict[str, object]] = OrderedDict()
    with gallery_csv.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"product_id", "image_path"} <= set(reader.fieldnames):
            raise FeedError(f"{gallery_csv}: needs product_id and image_path columns")
        for rec in map(restore_row, reader):
            pid = rec["product_id"].strip()
            path = Path(rec["image_path"])
            if absolute_paths and not path.is_absolute():
                path = (gallery_csv.parent / path).resolve()
            item = products.setdefault(pid, {"id": pid, "images": []})
            item["images"].append(str(path))  # type: ignore[attr-defined]
            for key in _CARRY:
                if rec.get(key) and key not in item:
                    item[key] = rec[key]
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [
        "id",
        "title",
        "gender",
        "product_type",
        "brand",
        "price",
        "seller",
        "color",
        "style_id",
        "image_link",
        "additional_image_link",
    ]
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeDictWriter(fh, fieldnames=columns)  # titles come from sellers
        writer.writeheader()
        for pid, item in products.items():
            images: list[str] = item["images"]  # type: ignore[assignment]
            writer.writerow(
                {
                    "id": pid,
                    "title": item.get("title") or pid,
                    "gender": item.get("gender", ""),
                    "product_type": item.get("category", ""),
                    "brand": item.get("brand", ""),
                    "price": item.get("price", ""),
                    "seller": item.get("seller", ""),
                    "color": item.get("color", ""),
                    "style_id": item.get("style_id", ""),
                    "image_link": images[0],
                    "additional_image_link": ",".join(images[1:]),
                }
            )
    return len(products)
