from __future__ import annotations

import numpy as np

from modiste.models.colour import ColourConfig
from modiste.models.crop_embedder import CropEmbedder, CropRecipe, Projection
from modiste.training.category import (
    HEAD_HIDDEN,
    PHOTO_CATEGORY_WEIGHTS,
    PHOTO_COLOUR_WEIGHTS,
    DomainData,
    choose_photo_weights,
    fit_category_head,
    split_domains,
)

CLASSES = ("bottom", "dress", "top")
DIM = 24


def _domain(n: int, shift: float, seed: int) -> DomainData:
    """Three Gaussian classes; ``shift`` moves the whole domain (street vs catalog look)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(3, DIM)) * 3
    y = rng.integers(0, 3, size=n)
    x = centres[y] + rng.normal(size=(n, DIM)) + shift
    colour = rng.random(size=(n, 8))
    return DomainData(
        x.astype(np.float32), colour, [CLASSES[i] for i in y], [str(i // 3) for i in range(n)]
    )


def test_head_learns_separable_classes() -> None:
    train, test = _domain(300, 0.0, 0), _domain(100, 0.0, 1)
    head = fit_category_head(train.cnn, train.labels, CLASSES, hidden=16, steps=300)
    pred = head.probs(test.cnn).argmax(axis=1)
    assert np.mean([CLASSES[i] == lab for i, lab in zip(pred, test.labels, strict=True)]) > 0.9


def test_photo_weights_chosen_on_validation_only() -> None:
    catalog, photo = _domain(240, 0.0, 2), _domain(240, 0.5, 3)
    fit, val = split_domains(catalog, photo, seed=0)
    assert not set(fit[0].groups) & set(val[0].groups)
    assert not set(fit[1].groups) & set(val[1].groups)
    recipe = CropRecipe(colour=ColourConfig(h_bins=2, s_bins=2, v_bins=2))

    class Features:  # CropEmbedder only reads .dim here
        dim = DIM

    def embedder(heads: dict) -> CropEmbedder:
        proj = Projection(np.eye(DIM, dtype=np.float32), recipe, heads=heads)
        return CropEmbedder(Features(), recipe, proj)  # type: ignore[arg-type]

    hidden, sw, cw, table = choose_photo_weights(fit, val, embedder, seed=0, steps=100)
    assert hidden in HEAD_HIDDEN and sw in PHOTO_CATEGORY_WEIGHTS and cw in PHOTO_COLOUR_WEIGHTS
    n = len(HEAD_HIDDEN) * len(PHOTO_CATEGORY_WEIGHTS) * len(PHOTO_COLOUR_WEIGHTS)
    assert len(table) == n
    assert max(table.values()) > 0.8  # separable classes: the category block finds them
