from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from modiste.errors import ModelError
from modiste.models.category_head import CategoryHead
from modiste.models.colour import ColourConfig
from modiste.models.crop_embedder import CropEmbedder, CropRecipe, Projection, pad_square
from modiste.models.embedder import Embedder
from modiste.models.registry import create_backbone

RECIPE = CropRecipe(
    backbone="timm:test_efficientnet", colour=ColourConfig(h_bins=8, s_bins=2, v_bins=2)
)


@pytest.fixture(scope="module")
def features() -> Embedder:
    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(64)
    return Embedder(bb, pooling="gem", runtime="torch")


def _garment(colour: tuple[int, int, int], size: tuple[int, int] = (80, 120)) -> Image.Image:
    im = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(im).ellipse((10, 10, size[0] - 10, size[1] - 10), fill=colour)
    return im


def test_unit_vectors_of_declared_dim(features: Embedder) -> None:
    emb = CropEmbedder(features, RECIPE)
    out = emb.embed([_garment((200, 0, 0)), _garment((0, 0, 200), (300, 40))])
    assert out.shape == (2, emb.dim) == (2, features.dim + RECIPE.colour.dim)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert emb.embed([]).shape == (0, emb.dim)


def test_colour_weight_shifts_similarity(features: Embedder) -> None:
    red, red2, blue = _garment((200, 0, 0)), _garment((210, 10, 10)), _garment((0, 0, 200))
    heavy = CropEmbedder(features, RECIPE).with_recipe(colour_weight=3.0).embed([red, red2, blue])
    none = CropEmbedder(features, RECIPE).with_recipe(colour_weight=0.0).embed([red, red2, blue])
    assert heavy[0] @ heavy[1] - heavy[0] @ heavy[2] > none[0] @ none[1] - none[0] @ none[2]


def test_projection_roundtrip_and_use(features: Embedder, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    proj = Projection(rng.normal(size=(features.dim, 16)).astype(np.float32), RECIPE, {"sha": "x"})
    path = proj.save(tmp_path / "p.npz")
    back = Projection.load(path)
    assert back.recipe == RECIPE and back.out_dim == 16 and back.meta == {"sha": "x"}
    assert np.allclose(back.weight, proj.weight, atol=1e-2)  # stored as float16
    emb = CropEmbedder(features, projection=back)
    assert emb.dim == 16 + RECIPE.colour.dim
    assert emb.embed([_garment((0, 120, 0))]).shape == (1, emb.dim)


def test_mismatched_or_corrupt_projection(features: Embedder, tmp_path: Path) -> None:
    bad = Projection(np.zeros((features.dim + 1, 4), np.float32), RECIPE)
    with pytest.raises(ModelError):
        CropEmbedder(features, projection=bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError):
        Projection.load(junk)


def test_pad_square_keeps_content() -> None:
    sq = pad_square(Image.new("RGB", (40, 10), (0, 0, 0)))
    assert sq.size == (40, 40) and sq.getpixel((0, 0)) == (255, 255, 255)
    assert sq.getpixel((20, 20)) == (0, 0, 0)


def test_pad_square_shrinks_an_extreme_strip_before_padding() -> None:
    # A hostile 30000x10 upload padded as it is would be a 30000x30000 canvas (2.7 GB).
    strip = Image.new("RGB", (30_000, 10), (0, 0, 0))
    sq = pad_square(strip)
    assert sq.size == (2048, 2048)
    assert sq.getpixel((1024, 1023)) == (0, 0, 0) and sq.getpixel((0, 0)) == (255, 255, 255)
    assert strip.size == (30_000, 10)  # the caller's image is left alone


def _heads(dim: int, rng: np.random.Generator) -> dict[str, CategoryHead]:
    labels = ("bottom", "top")
    return {
        d: CategoryHead(
            labels,
            rng.normal(size=(dim, 8)).astype(np.float32),
            np.zeros(8, np.float32),
            rng.normal(size=(8, 2)).astype(np.float32),
            np.zeros(2, np.float32),
        )
        for d in ("catalog", "photo")
    }


def test_category_heads_roundtrip_and_block(features: Embedder, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(features.dim, 16)).astype(np.float32)
    proj = Projection(w, RECIPE, {"sha": "h"}, _heads(features.dim, rng))
    back = Projection.load(proj.save(tmp_path / "h.npz"))
    assert set(back.heads) == {"catalog", "photo"} and back.heads["photo"].labels == (
        "bottom",
        "top",
    )
    x = rng.normal(size=(3, features.dim)).astype(np.float32)
    assert np.allclose(back.heads["photo"].probs(x), proj.heads["photo"].probs(x), atol=1e-2)
    block = back.heads["catalog"].block(x)
    assert np.allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-5)  # sqrt(p): unit rows
    emb = CropEmbedder(features, projection=back)
    assert emb.dim == 16 + RECIPE.colour.dim + 2
    assert emb.embed([_garment((0, 120, 0))], use="photo").shape == (1, emb.dim)
    with pytest.raises(ModelError):
        emb.embed([_garment((0, 120, 0))], use="street")


def test_query_uses_weigh_the_category_block(features: Embedder) -> None:
    rng = np.random.default_rng(2)
    heads = _heads(features.dim, rng)
    recipe = replace(RECIPE, photo_category_weight=4.0, photo_colour_weight=0.0)
    emb = CropEmbedder(features, projection=Projection(np.eye(features.dim), recipe, heads=heads))
    plain = CropEmbedder(features, projection=Projection(np.eye(features.dim), recipe))
    cnn = rng.normal(size=(6, features.dim)).astype(np.float32)
    col = rng.random(size=(6, RECIPE.colour.dim)).astype(np.float32)
    catalog = emb.combine(cnn, col)
    # "more like this" leaves the category block out of the query: same ranking as without heads
    sims = emb.combine(cnn, col, use="similar") @ catalog.T
    ref = plain.combine(cnn, col) @ plain.combine(cnn, col).T
    assert np.array_equal(np.argsort(-sims, axis=1), np.argsort(-ref, axis=1))
    # a street-photo query: score = cnn + 4 · Bhattacharyya(categories), no colour
    z = emb.combine(cnn, col, use="photo") @ catalog.T
    cat = heads["photo"].block(cnn) @ heads["catalog"].block(cnn).T
    zc = plain.with_recipe(colour_weight=0.0).combine(cnn, col)
    cos = zc @ zc.T
    norm_q, norm_c = np.sqrt(1 + 16.0), np.sqrt(1 + RECIPE.colour_weight**2 + 1.0)
    assert np.allclose(z, (cos + 4.0 * cat) / (norm_q * norm_c), atol=1e-4)
