"""Rebuild the committed demo catalog from ../shared/datasets (run from the repo root).

    python examples/demo-catalog/make_demo_catalog.py

Copies ≤ 40 photos: Magento Luma galleries (AFL-3.0/OSL-3.0) and CC0 clothing-dataset photos,
and writes two seller feeds. The galleries are listed in a deliberately scrambled order so that
`modiste sort` has something to fix. Prices are invented for the demo.
"""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1].parent / "shared" / "datasets"
MAGENTO = [
    "wj01-red",
    "wh01-green",
    "wp09-black",
    "mj03-black",
    "mh09-blue",
    "mp05-blue",
    "ws05-black",
    "wt03-red",
    "24-wb01-black",
]
CLOTHING_LABELS = ["T-Shirt", "Dress", "Pants", "Shoes", "Hat", "Skirt", "Hoodie", "Shirt"]
PRICES = {
    "wj01-red": 79.0,
    "wh01-green": 54.0,
    "wp09-black": 42.0,
    "mj03-black": 69.0,
    "mh09-blue": 63.0,
    "mp05-blue": 48.0,
    "ws05-black": 29.0,
    "wt03-red": 24.0,
    "24-wb01-black": 32.0,
}


def main() -> None:
    rng = random.Random(7)
    images = HERE / "images"
    images.mkdir(exist_ok=True)
    rows = list(csv.DictReader((DATASETS / "magento_luma" / "gallery.csv").open()))
    studio: list[dict[str, str]] = []
    for pid in MAGENTO:
        gallery = [r for r in rows if r["product_id"] == pid]
        rng.shuffle(gallery)
        names = []
        for r in gallery:
            src = DATASETS / "magento_luma" / r["image_path"]
            shutil.copy2(src, images / src.name)
            names.append(f"images/{src.name}")
        first = gallery[0]
        studio.append(
            {
                "id": pid,
                "title": first["title"],
                "gender": first["gender"],
                "product_type": first["category"],
                "brand": "Luma",
                "price": f"{PRICES[pid]:.2f} USD",
                "image_link": names[0],
                "additional_image_link": ",".join(names[1:]),
            }
        )
    consumer: list[dict[str, str]] = []
    labels = list(csv.DictReader((DATASETS / "clothing_dataset" / "labels.csv").open()))
    for label in CLOTHING_LABELS:
        pick = next(r for r in labels if r["label"] == label and r["kids"] == "False")
        src = DATASETS / "clothing_dataset" / pick["image_path"]
        shutil.copy2(src, images / src.name)
        consumer.append(
            {
                "id": f"cd-{src.stem[:8]}",
                "title": f"Second-hand {label.lower()}",
                "product_type": label,
                "price": f"{rng.randint(8, 40)}.00 EUR",
                "image_link": f"images/{src.name}",
                "additional_image_link": "",
            }
        )
    # The same Luma jacket resold by the second shop at another price: an offer group.
    resold = dict(studio[0], id="resale-wj01", price="61.00 USD")
    consumer.append(resold)
    for item in studio:
        item["seller"] = "Luma Studio"
    for item in consumer:
        item["seller"] = "Second-hand Shop"
    fields = [
        "id",
        "seller",
        "title",
        "gender",
        "product_type",
        "brand",
        "price",
        "image_link",
        "additional_image_link",
    ]
    for name, items in (("luma-studio.csv", studio), ("second-hand-shop.csv", consumer)):
        with (HERE / name).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(items)
    for lic in ("LICENSE_AFL-3.0.txt", "LICENSE_OSL-3.0.txt"):
        shutil.copy2(DATASETS / "magento_luma" / lic, HERE / lic)
    shutil.copy2(DATASETS / "clothing_dataset" / "LICENSE_CC0.txt", HERE / "LICENSE_CC0.txt")


if __name__ == "__main__":
    main()
