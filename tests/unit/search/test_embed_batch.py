"""The batched embed stage against the per-image path it replaced (tiny models, made-up photos)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.schema import GarmentRow, ImageRow, ProductRow, Seller, ShotRow
from modiste.config import Settings
from modiste.domain import Box, Garment
from modiste.imaging.store import ImageStore
from modiste.index import create_index
from modiste.models.colour import ColourConfig
from modiste.models.crop_embedder import CropEmbedder, CropRecipe
from modiste.models.embedder import Embedder
from modiste.models.registry import create_backbone
from modiste.pipeline.stages import StageContext
from modiste.search import stage
from modiste.search.embed_batch import embed_inputs
from modiste.search.indexing import CatalogIndexer

COLOURS = [(200, 20, 20), (20, 20, 200), (20, 160, 20), (230, 210, 20), (90, 40, 120)]


class CountingDetector:
    """A 'top' in the upper half, a 'bottom' in the lower half; counts the photos it saw."""

    classes = ("top", "bottom")

    def __init__(self) -> None:
        self.seen = 0

    def predict(self, images: Sequence[Image.Image]) -> list[list[Garment]]:
        self.seen += len(images)
        return [
            [
                Garment("top", 0.9, Box(2, 1, im.width - 2, im.height / 2)),
                Garment("bottom", 0.8, Box(0, im.height / 2, im.width, im.height)),
            ]
            for im in images
        ]


@pytest.fixture(scope="module")
def embedder() -> CropEmbedder:
    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(48)
    recipe = CropRecipe(backbone=bb.name, colour=ColourConfig(h_bins=12, s_bins=2, v_bins=2))
    return CropEmbedder(Embedder(bb, pooling="gem", runtime="torch"), recipe)


def _photo(colour: tuple[int, int, int]) -> bytes:
    im = Image.new("RGB", (60, 100), (255, 255, 255))
    ImageDraw.Draw(im).rectangle((10, 5, 50, 95), fill=colour)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _catalog(settings: Settings, shots: dict[int, tuple[str, float]] | None = None) -> Database:
    """Five one-photo products ("… tee": the product class is 'top'); photo i gets shots[i]."""
    db = Database(settings)
    db.migrate()
    store = ImageStore(settings.images_dir)
    with db.session() as s:
        seller = Seller(name="shop")
        s.add(seller)
        for i, colour in enumerate(COLOURS):
            p = ProductRow(seller=seller, external_id=f"p{i}", title=f"Shirt {i} tee", price=9.0)
            s.add(p)
            s.flush()
            image = ImageRow(
                product_id=p.id,
                position=0,
                source=f"x/{i}.png",
                content_hash=store.put(_photo(colour)),
                status="stored",
            )
            s.add(image)
            s.flush()
            if shots and i in shots:
                label, confidence = shots[i]
                s.add(ShotRow(image_id=image.id, label=label, confidence=confidence, scores={}))
    return db


def _embed(
    settings: Settings, db: Database, embedder: CropEmbedder, detector: Any, engine: str
) -> dict[str, Any]:
    """Run the embed stage once with ``engine``; per photo: outcome, garments, vectors."""
    index = create_index("faiss", embedder.dim, settings.resolved_data_dir / "idx")
    store = ImageStore(settings.images_dir)
    ctx = StageContext(settings=settings, db=db, store=store, engine=engine)
    ctx.cache["embed.indexer"] = CatalogIndexer(db, store, index, embedder, detector)
    with db.session() as s:
        ids = {i: src for i, src in s.execute(select(ImageRow.id, ImageRow.source))}
    outcomes = stage.embed_images(ctx, [*ids, 10_000])
    vectors: dict[int, Any] = {}
    for gids, vecs in index._engine.vectors():  # type: ignore[attr-defined]
        vectors.update(zip(gids.tolist(), vecs, strict=True))
    out: dict[str, Any] = {"missing": outcomes[10_000].status}
    with db.session() as s:
        for g in s.scalars(select(GarmentRow).order_by(GarmentRow.id)):
            entry = out.setdefault(ids[g.image_id], {"garments": []})
            entry["garments"].append((g.label, (g.x1, g.y1, g.x2, g.y2), vectors[g.id]))
    for image_id, source in ids.items():
        out.setdefault(source, {"garments": []})["outcome"] = outcomes[image_id].status
    return out


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    yield Settings(data_dir=tmp_path / "a"), Settings(data_dir=tmp_path / "b")


def test_batched_path_gives_what_the_per_image_path_gave(two, embedder) -> None:  # type: ignore[no-untyped-def]
    old_settings, new_settings = two
    old = _embed(old_settings, _catalog(old_settings), embedder, CountingDetector(), "legacy")
    new = _embed(new_settings, _catalog(new_settings), embedder, CountingDetector(), "local")
    assert old.keys() == new.keys()
    assert old["missing"] == new["missing"] == "skipped"
    for source in (k for k in old if k != "missing"):
        assert old[source]["outcome"] == new[source]["outcome"] == "done"
        (a,), (b,) = old[source]["garments"], new[source]["garments"]
        assert a[0] == b[0] == "top"  # the product's own crop, not the bottom
        assert a[1] == b[1]
        assert float(np.dot(a[2], b[2])) > 0.999  # batched CNN calls: float noise only


def test_a_sure_single_product_shot_skips_the_detector(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "d")
    shots = {0: ("packshot", 0.97), 1: ("packshot", 0.6), 2: ("near_front", 0.99)}
    db = _catalog(settings, shots)
    detector = CountingDetector()
    out = _embed(settings, db, embedder, detector, "local")
    assert detector.seen == 4  # every photo but the sure packshot
    ((label, box, _),) = out["x/0.png"]["garments"]
    assert (label, box) == ("top", (0.0, 0.0, 60.0, 100.0))  # the whole photo, the product's class
    assert out["x/1.png"]["garments"][0][1] != (0.0, 0.0, 60.0, 100.0)  # unsure: detected


def test_an_unreadable_photo_fails_alone(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "d")
    db = _catalog(settings)
    store = ImageStore(settings.images_dir)
    with db.session() as s:
        broken = s.scalars(select(ImageRow).where(ImageRow.source == "x/3.png")).one()
        broken.content_hash = store.put(b"\x89PNG\r\n\x1a\n not really")
    out = _embed(settings, db, embedder, CountingDetector(), "local")
    assert out["x/3.png"] == {"garments": [], "outcome": "failed"}
    assert [out[f"x/{i}.png"]["outcome"] for i in (0, 1, 2, 4)] == ["done"] * 4


def test_a_photo_kept_out_of_search_leaves_the_saved_index(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "d")
    db = _catalog(settings)
    _embed(settings, db, embedder, CountingDetector(), "local")
    path = settings.resolved_data_dir / "idx"
    assert create_index("faiss", embedder.dim, path).count() == 5
    with db.session() as s:
        image = s.scalars(select(ImageRow).where(ImageRow.source == "x/2.png")).one()
        image.in_search, image.policy_reason, image_id = False, "wash tag", image.id
    store = ImageStore(settings.images_dir)
    ctx = StageContext(settings=settings, db=db, store=store, engine="local")
    index = create_index("faiss", embedder.dim, path)
    ctx.cache["embed.indexer"] = CatalogIndexer(db, store, index, embedder, CountingDetector())
    # the Ray engine calls embed_inputs alone when no image of a window needs computing
    rows, decided = embed_inputs(ctx, [image_id])
    assert rows == [] and decided[image_id].status == "skipped"
    assert create_index("faiss", embedder.dim, path).count() == 4  # saved without it
    with db.session() as s:
        assert not s.scalars(select(GarmentRow).where(GarmentRow.image_id == image_id)).all()
