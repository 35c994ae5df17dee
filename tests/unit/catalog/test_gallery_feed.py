"""modiste feed-from-gallery: formulas in the gallery's text are neutralised, and read back."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.gallery_feed import gallery_to_feed
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ProductRow


def test_feed_from_gallery_neutralises_formulas_and_imports_them_back(
    db: Database, tmp_path: Path
) -> None:
    (tmp_path / "g" / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "g" / "images" / "x.jpg")
    gallery = tmp_path / "g" / "gallery.csv"
    evil = '=HYPERLINK("http://evil.example","Click")'
    with gallery.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_id", "image_path", "title", "brand", "price"])
        w.writerow(["x", "images/x.jpg", evil, "@brand", "-3.5"])
    out = tmp_path / "g" / "feed.csv"
    gallery_to_feed(gallery, out)
    with out.open(newline="") as fh:
        row = next(csv.DictReader(fh))
    assert (row["title"], row["brand"], row["price"]) == ("'" + evil, "'@brand", "-3.5")
    import_feed(db, out)  # -3.5 is refused as a price: the row is reported, not imported
    out.write_text(out.read_text().replace(",-3.5,", ",3.5,"))
    assert import_feed(db, out).created == 1
    with db.session() as s:
        product = s.scalars(select(ProductRow)).one()
        assert (product.title, product.brand, product.price) == (evil, "@brand", 3.5)
