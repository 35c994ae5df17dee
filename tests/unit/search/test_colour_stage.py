"""The "colour" ingest stage: photo colours become product attributes text search can match."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from modiste.catalog.db import Database
from modiste.catalog.schema import ImageRow, ProductRow, Seller
from modiste.config import Settings
from modiste.imaging.store import ImageStore
from modiste.pipeline.stages import StageContext, get_stages
from modiste.search.colour_stage import name_colours, product_colour


def _png(fill: tuple[int, int, int]) -> bytes:
    im = Image.new("RGB", (60, 90), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((10, 10, 50, 80), fill=fill)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_photo_colours_are_named_per_image_and_per_product(
    db: Database, settings: Settings
) -> None:
    store = ImageStore(settings.images_dir)
    with db.session() as s:
        p = ProductRow(seller=Seller(name="shop"), external_id="j1", title="Jacket",
                       attributes={"gender_raw": "Women"})  # fmt: skip
        s.add(p)
        s.flush()
        shots = [((200, 20, 25), None), ((200, 20, 25), None), ((20, 20, 20), False)]
        for pos, (fill, in_search) in enumerate(shots):
            s.add(ImageRow(product_id=p.id, position=pos, source=f"x{pos}.png", status="stored",
                           content_hash=store.put(_png(fill)), in_search=in_search))  # fmt: skip
        s.add(ImageRow(product_id=p.id, position=9, source="gone.png", status="failed"))
        s.flush()
        ids = [i.id for i in p.images]
    ctx = StageContext(settings=settings, db=db, store=store)
    out = name_colours(ctx, ids)
    assert [out[i].status for i in ids] == ["done", "done", "skipped", "skipped"]
    assert name_colours(ctx, ids) == out  # idempotent
    with db.session() as s:
        attrs = s.get(ProductRow, p.id).attributes
    assert attrs["photo_colour"] == "red"
    assert attrs["photo_colours"] == {str(ids[0]): "red", str(ids[1]): "red"}
    assert attrs["gender_raw"] == "Women"  # the feed's attributes are kept
    assert "colour" in [st.name for st in get_stages()]


def test_product_colour_is_the_most_common_then_the_first_photo() -> None:
    assert product_colour({"3": "blue", "1": "red", "2": "blue"}) == "blue"
    assert product_colour({"3": "blue", "1": "red"}) == "red"
    assert product_colour({"1": None}) is None
