from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from sqlalchemy import select, update

from modiste.catalog.db import Database
from modiste.catalog.schema import (
    DuplicateGroup,
    DuplicateMember,
    GarmentRow,
    ImageRow,
    ProductRow,
    Seller,
)
from modiste.config import Settings
from modiste.domain import Box, Garment
from modiste.errors import NotFoundError
from modiste.imaging.store import ImageStore
from modiste.index import create_index
from modiste.models.colour import ColourConfig
from modiste.models.crop_embedder import CropEmbedder, CropRecipe
from modiste.models.embedder import Embedder
from modiste.models.registry import create_backbone
from modiste.search.crops import WHOLE_IMAGE
from modiste.search.indexing import CatalogIndexer, product_class, product_garments
from modiste.search.text import SearchFilters
from modiste.search.visual import SearchService

COLOURS = {
    "red": (200, 20, 20),
    "blue": (20, 20, 200),
    "green": (20, 160, 20),
    "yellow": (230, 210, 20),
}


class HalfDetector:
    """Finds a 'top' in the upper half and a 'bottom' in the lower half of portrait images."""

    classes = ("top", "bottom")

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]:
        out = []
        for im in images:
            w, h = im.width, im.height
            if h >= w:
                out.append(
                    [
                        Garment("top", 0.9, Box(0, 0, w, h / 2)),
                        Garment("bottom", 0.8, Box(0, h / 2, w, h)),
                    ]
                )
            else:
                out.append([])
        return out


@pytest.fixture(scope="module")
def embedder() -> CropEmbedder:
    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(48)
    recipe = CropRecipe(
        backbone=bb.name, colour=ColourConfig(h_bins=12, s_bins=2, v_bins=2), colour_weight=2.0
    )
    return CropEmbedder(Embedder(bb, pooling="gem", runtime="torch"), recipe)


def _photo(colour: tuple[int, int, int]) -> bytes:
    im = Image.new("RGB", (60, 100), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((10, 5, 50, 95), fill=colour)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def catalog(settings: Settings, embedder: CropEmbedder):
    db = Database(settings)
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    db.migrate()
    store = ImageStore(settings.images_dir)
    ids: dict[str, int] = {}
    with db.session() as s:
        shop, other = Seller(name="shop"), Seller(name="other")
        s.add_all([shop, other])
        for i, (name, colour) in enumerate(COLOURS.items()):
            for copy in ("a", "b"):
                p = ProductRow(
                    seller=shop if copy == "a" else other,
                    external_id=f"{name}-{copy}",
                    title=f"{name} tee",
                    product_type="Tops > T-Shirts",
                    gender="women",
                    price=10.0 * (i + 1),
                )
                s.add(p)
                s.flush()
                for pos in range(2):
                    s.add(
                        ImageRow(
                            product_id=p.id,
                            position=pos,
                            source=f"x/{name}{copy}{pos}.png",
                            content_hash=store.put(_photo(colour)),
                            status="stored",
                        )
                    )
                ids[f"{name}-{copy}"] = p.id
        s.execute(
            update(ImageRow).where(ImageRow.source == "x/greena1.png").values(in_search=False)
        )
    index = create_index("faiss", embedder.dim, None)
    indexer = CatalogIndexer(db, store, index, embedder, HalfDetector())
    with db.session() as s:
        all_ids = list(s.scalars(select(ImageRow.id)))
    results = indexer.index_images(all_ids)
    return db, index, ids, results


def test_indexing_keeps_the_product_crop_and_skips_hidden(catalog) -> None:
    db, index, _ids, results = catalog
    assert sum(r is None for r in results.values()) == 15
    assert sum(str(r).startswith("skipped") for r in results.values()) == 1
    with db.session() as s:
        labels = set(s.scalars(select(GarmentRow.label)))
        assert labels == {"top"}  # the product is a tee: the 'bottom' crop is someone else's
    assert index.count() == 15


def test_crops_of_dropped_garments_leave_the_store_unless_still_named(
    catalog, settings, embedder
) -> None:
    db, index, _ids, _results = catalog
    store = ImageStore(settings.images_dir)
    indexer = CatalogIndexer(db, store, index, embedder, HalfDetector())

    def crops(source_prefix: str) -> set[str]:
        with db.session() as s:
            return set(
                s.scalars(
                    select(GarmentRow.crop_hash)
                    .join(ImageRow, ImageRow.id == GarmentRow.image_id)
                    .where(ImageRow.source.startswith(source_prefix))
                )
            )

    def hide(source_prefix: str) -> list[int]:
        with db.session() as s:
            s.execute(
                update(ImageRow)
                .where(ImageRow.source.startswith(source_prefix))
                .values(in_search=False)
            )
            return list(
                s.scalars(select(ImageRow.id).where(ImageRow.source.startswith(source_prefix)))
            )

    # Every photo of a colour is the same picture, so its crop file is shared by four garments.
    (shared,) = crops("x/red")
    indexer.index_images(hide("x/reda"))
    assert store.exists(shared)  # the "b" listings still name it
    (gone,) = crops("x/blue")
    indexer.index_images(hide("x/blue"))
    assert not store.exists(gone)  # named by no garment any more: not left behind for ever
    assert store.exists(shared)


def test_search_image_finds_same_colour(catalog, settings, embedder) -> None:
    db, index, ids, _ = catalog
    service = SearchService(settings, db, index, embedder, HalfDetector())
    query = Image.open(io.BytesIO(_photo(COLOURS["blue"])))
    objects = service.search_image(query, None, k=3)
    assert [o.label for o in objects] == ["top", "bottom"]
    top = objects[0].hits
    assert {top[0].product_id, top[1].product_id} == {ids["blue-a"], ids["blue-b"]}
    assert len({h.product_id for h in top}) == len(top)  # one hit per product
    only = service.search_image(query, None, k=3, object_index=1)
    assert len(only) == 1 and only[0].label == "bottom"
    with pytest.raises(NotFoundError):
        service.search_image(query, None, k=3, object_index=5)


def test_filters(catalog, settings, embedder) -> None:
    db, index, ids, _ = catalog
    service = SearchService(settings, db, index, embedder, None)
    query = Image.open(io.BytesIO(_photo(COLOURS["red"])))
    by_seller = service.search_image(query, SearchFilters(seller="other"), k=10)[0].hits
    assert by_seller and all(h.payload["seller"] == "other" for h in by_seller)
    cheap = service.search_image(query, SearchFilters(max_price=20), k=10)[0].hits
    assert {h.product_id for h in cheap} <= {
        ids["red-a"],
        ids["red-b"],
        ids["blue-a"],
        ids["blue-b"],
    }
    assert not service.search_image(query, SearchFilters(category="dress"), k=10)[0].hits
    tees = SearchFilters(category="Tops/T-Shirts", gender="Women")
    assert service.search_image(query, tees, k=10)[0].hits
    assert service.search_image(query, SearchFilters(category="tops"), k=10)[0].hits  # below it
    # A category is a path, not a substring, nor the crop's detector class (issue #14 item 2).
    for other in ("t-shirt", "Tops/T-Shirt", "Men/Tops/T-Shirts", "top"):
        assert not service.search_image(query, SearchFilters(category=other), k=10)[0].hits
    similar = service.similar_products(ids["red-a"], SearchFilters(category="tops > t-shirts"))
    assert similar and not service.similar_products(ids["red-a"], SearchFilters(category="top"))


def test_similar_products_excludes_itself_and_its_group(catalog, settings, embedder) -> None:
    db, index, ids, _ = catalog
    service = SearchService(settings, db, index, embedder, HalfDetector())
    hits = service.similar_products(ids["yellow-a"], None, k=5)
    assert hits and ids["yellow-a"] not in {h.product_id for h in hits}
    assert hits[0].product_id == ids["yellow-b"]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    with db.session() as s:
        g = DuplicateGroup(kind="offer")
        g.members = [
            DuplicateMember(product_id=ids["yellow-a"]),
            DuplicateMember(product_id=ids["yellow-b"]),
        ]
        s.add(g)
    assert ids["yellow-b"] not in {
        h.product_id for h in service.similar_products(ids["yellow-a"], None, 5)
    }
    with pytest.raises(NotFoundError):
        service.similar_products(999_999, None, 5)


def test_hits_under_the_relevance_floor_are_not_offered(catalog, settings, embedder) -> None:
    """Issue #14 item 7: no k slots filled with poor hits; an empty list means no close match.
    The floor guards the pass over every crop; crops of the garment's own class stay."""
    db, index, ids, _ = catalog
    query = Image.open(io.BytesIO(_photo(COLOURS["blue"])))
    everything = SearchService(settings, db, index, embedder, HalfDetector())
    everything.settings = settings.model_copy(update={"search_min_score_photo": -1.0})
    hits = everything.search_image(query, None, k=8)[0].hits
    assert len(hits) == 8  # without a floor every slot is filled, the other colours included
    floor = (hits[1].score + hits[2].score) / 2  # between the two blue tees and the rest
    strict = settings.model_copy(update={"search_min_score_photo": floor})
    service = SearchService(strict, db, index, embedder, HalfDetector())
    # The photo's 'top' is narrowed to the catalog's tops: every tee stays, best first.
    assert [h.product_id for h in service.search_image(query, None, 8)[0].hits] == [
        h.product_id for h in hits
    ]
    (vector,) = embedder.embed([query], use="photo")
    unnarrowed = service.search_vector(vector, None, 8, floor=floor)
    assert {h.product_id for h in unnarrowed} == {ids["blue-a"], ids["blue-b"]}
    no_hats = service.search_vector(vector, None, 8, label="hat", floor=floor)
    assert no_hats == unnarrowed  # no hat in the catalog: only close matches of other classes
    over = hits[0].score + 0.01  # above the best hit (the same photo scores 1.0)
    none = settings.model_copy(
        update={"search_min_score_photo": over, "search_min_score_similar": over}
    )
    service = SearchService(none, db, index, embedder, HalfDetector())
    assert service.search_vector(vector, None, 8, label="hat", floor=over) == []  # no close match
    landscape = Image.new("RGB", (100, 60), COLOURS["blue"])  # nothing detected: no class
    (whole,) = service.search_image(landscape, None, 8)
    assert whole.label == WHOLE_IMAGE and whole.hits == []
    # "Similar items" narrow to the product's own class: the other tees stay, best first.
    similar = service.similar_products(ids["yellow-a"], None, 5)
    assert similar and ids["yellow-a"] not in {h.product_id for h in similar}


def test_a_narrowed_pass_under_the_floor_still_lets_the_other_crops_in(
    catalog, settings, embedder
) -> None:
    """Issue #13: a shopper's garment is narrowed to its class first; that pass's crops stay
    under the floor, and when they are fewer than k, close matches of other crops follow."""
    db, _, ids, _ = catalog
    with db.session() as s:  # every colour but blue becomes a skirt: its 'bottom' crop is kept
        s.execute(
            update(ProductRow)
            .where(ProductRow.external_id.not_like("blue-%"))
            .values(product_type="Bottoms > Skirts")
        )
        image_ids = list(s.scalars(select(ImageRow.id)))
    index = create_index("faiss", embedder.dim, None)
    store = ImageStore(settings.images_dir)
    CatalogIndexer(db, store, index, embedder, HalfDetector()).index_images(image_ids)
    service = SearchService(settings, db, index, embedder, HalfDetector())
    query = Image.open(io.BytesIO(_photo(COLOURS["blue"])))
    (vector,) = embedder.embed([query.crop((0, 50, 60, 100))], use="photo")
    everything = service.search_vector(vector, None, 8)
    blue = {ids["blue-a"], ids["blue-b"]}
    assert {h.product_id for h in everything[:2]} == blue  # the blue tees, indexed as 'top'
    floor = (everything[1].score + everything[2].score) / 2
    skirts = {i for name, i in ids.items() if not name.startswith("blue")}
    kept = service.search_vector(vector, None, 8, label="bottom", floor=floor)
    assert {h.product_id for h in kept} == skirts | blue  # the skirts under the floor stay
    # ...and come first, though the blue tees score higher: the class leads, then the rest.
    assert [h.label for h in kept] == ["bottom"] * 6 + ["top"] * 2
    assert {h.product_id for h in kept[6:]} == blue and kept[6].score > kept[0].score
    only = service.search_vector(vector, None, 2, label="bottom", floor=floor)
    assert {h.product_id for h in only} <= skirts  # k skirts: the other crops are not asked


def test_awkward_query_images_do_not_crash(catalog, settings, embedder) -> None:
    db, index, _, _ = catalog
    service = SearchService(settings, db, index, embedder, HalfDetector())
    drawing = Image.new("RGB", (300, 400), "white")
    d = ImageDraw.Draw(drawing)
    d.line((20, 20, 280, 380), fill="black", width=2)
    d.ellipse((100, 50, 200, 150), outline="black")
    for im in (
        drawing,
        Image.new("RGB", (200, 200), (120, 80, 200)),
        Image.new("RGB", (8, 8), "red"),
        Image.new("RGB", (2000, 50), "navy"),
        Image.new("RGBA", (40, 40), (0, 0, 0, 0)),
        Image.new("L", (64, 64), 255),
    ):
        objects = service.search_image(im, None, k=4)
        assert objects and all(np.isfinite(h.score) for o in objects for h in o.hits)
    flat = service.search_image(Image.new("RGB", (2000, 50), "navy"), None, k=4)
    assert flat[0].label == WHOLE_IMAGE


def test_product_class_words() -> None:
    assert product_class("Women/Tops/Jackets") == "outerwear"
    # The detector's classes (CCP's mapping): a hoodie or a sweatshirt is a top.
    assert product_class("Men/Tops/Hoodies & Sweatshirts") == "top"
    assert product_class("Apparel/Topwear/Sweatshirts") == "top"
    assert product_class("Women/Tops/Cardigans") == "outerwear"
    assert product_class("Men/Bottoms/Pants") == "bottom"
    assert product_class(None, "Voyage Yoga Bag") == "bag"
    assert product_class("Gear", "Fitness kit") is None


def test_a_catalog_photo_indexes_its_product_not_the_other_garments() -> None:
    """Issue #13: a shirt's model shot where only the shoes were found is indexed as the shirt
    (the whole photo), not as footwear; a photo of an unknown type keeps every detection."""
    shoes = Garment("footwear", 0.8, Box(10, 150, 60, 200))
    top = Garment("top", 0.7, Box(5, 20, 95, 90))
    (shirt,) = product_garments([shoes], "top", 100, 200)
    assert (shirt.label, shirt.box, shirt.confidence) == ("top", Box(0, 0, 100, 200), 0.0)
    assert product_garments([shoes, top], "top", 100, 200) == [top]
    assert product_garments([shoes, top], None, 100, 200) == [shoes, top]
    assert product_garments([], None, 100, 200) == []  # the crops' whole-image fallback


def test_embed_stage_records_outcomes_and_saves(catalog, settings, embedder, tmp_path) -> None:
    from modiste.pipeline.stages import StageContext
    from modiste.search import stage

    db, _, _, _ = catalog
    index = create_index("faiss", embedder.dim, tmp_path / "idx")
    ctx = StageContext(settings=settings, db=db, store=ImageStore(settings.images_dir))
    ctx.cache["embed.indexer"] = CatalogIndexer(db, ctx.store, index, embedder, None)
    with db.session() as s:
        ids = list(s.scalars(select(ImageRow.id)))
    outcomes = stage.embed_images(ctx, [*ids, 10_000])
    statuses = [o.status for o in outcomes.values()]
    assert statuses.count("done") == 15 and statuses.count("skipped") == 2
    assert create_index("faiss", embedder.dim, tmp_path / "idx").count() == 15
    stage._teardown(ctx)
    assert "embed.indexer" not in ctx.cache


def _embedded(db, settings, embedder, tmp_path):  # type: ignore[no-untyped-def]
    """The catalog run through the embed stage (outcomes recorded): context, index, image ids."""
    from modiste.catalog.schema import StageState
    from modiste.pipeline.stages import StageContext
    from modiste.search import stage

    index = create_index("faiss", embedder.dim, tmp_path / "idx")
    ctx = StageContext(settings=settings, db=db, store=ImageStore(settings.images_dir))
    ctx.cache["embed.indexer"] = CatalogIndexer(db, ctx.store, index, embedder, None)
    with db.session() as s:
        ids = list(s.scalars(select(ImageRow.id).order_by(ImageRow.id)))
    for image_id, outcome in stage.embed_images(ctx, ids).items():
        with db.session() as s:
            s.merge(StageState(image_id=image_id, stage="embed", status=outcome.status))
    return ctx, index, ids


def test_reconcile_follows_later_placement_changes(catalog, settings, embedder, tmp_path) -> None:
    """Kept out of search after indexing: it leaves the index; one let back in returns."""
    from modiste.catalog.schema import StageState
    from modiste.search import stage

    db, _, _, _ = catalog
    ctx, index, ids = _embedded(db, settings, embedder, tmp_path)
    assert index.count() == 15
    with db.session() as s:  # cleaning changes its mind about two images
        s.execute(update(ImageRow).where(ImageRow.id == ids[0]).values(in_search=False))
        s.execute(update(ImageRow).where(ImageRow.source == "x/greena1.png").values(in_search=None))
        s.execute(
            update(StageState)
            .where(
                StageState.image_id
                == s.scalar(select(ImageRow.id).where(ImageRow.source == "x/greena1.png"))
            )
            .values(status="done")
        )
    stage._reconcile(ctx)
    assert index.count() == 15  # one out, one back in
    with db.session() as s:
        assert not s.scalars(select(GarmentRow).where(GarmentRow.image_id == ids[0])).all()
        back = s.scalar(select(ImageRow.id).where(ImageRow.source == "x/greena1.png"))
        assert s.scalars(select(GarmentRow).where(GarmentRow.image_id == back)).all()
    stage._teardown(ctx)


def test_reconcile_follows_edits_deletes_and_lost_vectors(
    catalog, settings, embedder, tmp_path
) -> None:
    """A repriced product's payloads are rewritten, a deleted product's vectors go, and
    vectors lost from the index (a rebuild or save cut short) come back."""
    from modiste.search import stage

    db, _, ids, _ = catalog
    ctx, index, _ = _embedded(db, settings, embedder, tmp_path)
    red, blue = ids["red-a"], ids["blue-a"]
    with db.session() as s:
        s.get(ProductRow, red).price = 1.0
        s.delete(s.get(ProductRow, blue))  # its images and garments go with it (cascade)
        lost = s.scalars(select(GarmentRow).where(GarmentRow.indexed.is_(True))).first()
        lost_id, lost_image = lost.id, lost.image_id
    index.remove([lost_id])  # as if the index had been saved without it
    # Before any reconcile, search already leaves the deleted product out.
    service = SearchService(settings, db, index, embedder, None)
    query = Image.open(io.BytesIO(_photo(COLOURS["blue"])))
    found = {h.product_id for h in service.search_image(query, None, k=3)[0].hits}
    assert blue not in found and ids["blue-b"] in found
    # ...and checks filters against the product as it is now (red was 10.0, is 1.0).
    red_photo = Image.open(io.BytesIO(_photo(COLOURS["red"])))
    dearer = service.search_image(red_photo, SearchFilters(min_price=5), k=3)[0].hits
    assert red not in {h.product_id for h in dearer} and dearer
    stage._reconcile(ctx)
    items = dict(index.payload_items())
    assert {p["product_id"] for p in items.values()} == set(ids.values()) - {blue}
    assert all(p["price"] == 1.0 for p in items.values() if p["product_id"] == red)
    assert lost_image in {p["image_id"] for p in items.values()}  # indexed again
    assert index.count() == 13  # 15 minus blue-a's two
    again = create_index("faiss", embedder.dim, tmp_path / "idx")  # saved
    assert dict(again.payload_items()) == items
    stage._teardown(ctx)


@pytest.mark.parametrize("detected", [False, True], ids=["whole-image", "detected-box"])
def test_reconcile_repairs_garments_and_vectors_stored_twice(
    catalog, settings, embedder, tmp_path, detected
) -> None:
    """Two ingests that ran at once (before the ingest lock) indexed the same image twice:
    two rows per box and a vector each. The next ingest's reconcile keeps one of each."""
    from modiste.search import stage

    db, _, _, _ = catalog
    ctx, index, ids = _embedded(db, settings, embedder, tmp_path)
    if detected:
        ctx.cache["embed.indexer"].detector = HalfDetector()
        ctx.cache["embed.indexer"].index_images([ids[0]])
    with db.session() as s:
        first = s.scalars(select(GarmentRow).where(GarmentRow.image_id == ids[0])).all()
        copies = [
            GarmentRow(image_id=g.image_id, label=g.label, confidence=g.confidence, x1=g.x1,
                       y1=g.y1, x2=g.x2, y2=g.y2, crop_hash=g.crop_hash, indexed=True)
            for g in first
        ]  # fmt: skip
        s.add_all(copies)
        s.flush()
        copy_ids = [g.id for g in copies]
    stored = dict(index.payload_items())
    vectors = np.random.default_rng(0).normal(size=(len(first), embedder.dim)).astype("float32")
    index.add(copy_ids, vectors, [stored[g.id] for g in first])  # the second run's vectors
    assert index.count() == 15 + len(first)
    stage._reconcile(ctx)
    with db.session() as s:
        boxes = [
            (g.label, g.x1, g.y1, g.x2, g.y2)
            for g in s.scalars(select(GarmentRow).where(GarmentRow.image_id == ids[0]))
        ]
    assert boxes and len(boxes) == len(set(boxes)) == len(first)
    # A tee: its detected top, or without a detector the whole photo under the tee's class.
    assert {b[0] for b in boxes} == {"top"}
    assert (max(b[4] for b in boxes) < 100) == detected  # the upper half, or the whole photo
    assert index.count() == 15
    with db.session() as s:  # the index and the catalog name the same garments
        garments = set(s.scalars(select(GarmentRow.id).where(GarmentRow.indexed.is_(True))))
    assert set(dict(index.payload_items())) == garments
    stage._teardown(ctx)
