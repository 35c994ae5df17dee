"""Text categorizer on tiny synthetic titles: fit, predict, save/load, Japanese, ingest helper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modiste.cleaning.text import (
    CategorizerConfig,
    TextCategorizer,
    categorize_product,
)
from modiste.errors import ModelError, NotFoundError

COLOURS = ["blue", "red", "black", "white", "grey", "navy", "green", "pink", "beige", "brown"]
BRANDS = ["acme", "nordic", "urban", "kaze", "solstice"]


def synthetic() -> tuple[list[str], list[str], list[str]]:
    texts, types, genders = [], [], []
    for i, colour in enumerate(COLOURS * 3):
        brand = BRANDS[i % len(BRANDS)]
        for title, kind, gender in [
            (f"{brand} men {colour} cotton shirt", "shirt", "men"),
            (f"{brand} women {colour} summer dress", "dress", "women"),
            (f"{brand} men {colour} running shoes", "shoes", "men"),
            (f"{brand} women {colour} leather shoes", "shoes", "women"),
            (f"メンズ 長袖 シャツ {colour}", "shirt", "men"),
            (f"レディース ワンピース {colour}", "dress", "women"),
        ]:
            texts.append(title)
            types.append(kind)
            genders.append(gender)
    return texts, types, genders


@pytest.fixture(scope="module")
def model() -> TextCategorizer:
    texts, types, _ = synthetic()
    return TextCategorizer().fit(texts, types)


def test_predicts_english_and_japanese(model: TextCategorizer) -> None:
    preds = model.predict(
        [
            "urban men olive cotton shirt",
            "メンズ 長袖 シャツ",
            "レディース ワンピース",
            "women yellow summer dress",
            "men trail running shoes",
        ]
    )
    assert [p for p, _ in preds] == ["shirt", "shirt", "dress", "dress", "shoes"]
    assert all(0.0 < c <= 1.0 for _, c in preds)


def test_probabilities_are_calibrated_rows(model: TextCategorizer) -> None:
    p = model.predict_proba(["acme men blue cotton shirt", "zzz"])
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert p[0].max() > p[1].max()  # a nonsense title is less sure
    assert model.temperature > 0
    assert model.predict([]) == []


def test_save_load_roundtrip_without_pickle(model: TextCategorizer, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.npz"]
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as z:
        assert "coef_data" in z.files
    loaded = TextCategorizer.load(tmp_path / "m")
    titles = ["nordic women red summer dress", "レディース ワンピース 白"]
    np.testing.assert_allclose(loaded.predict_proba(titles), model.predict_proba(titles), atol=1e-5)


def test_pruned_weights_stay_accurate(tmp_path: Path) -> None:
    texts, types, _ = synthetic()
    small = TextCategorizer(CategorizerConfig(keep_weights=0.2)).fit(texts, types)
    assert small._coef is not None and small._coef.nnz <= 0.21 * np.prod(small._coef.shape)
    assert small.predict(["acme men blue cotton shirt"])[0][0] == "shirt"


def test_binary_labels(tmp_path: Path) -> None:
    texts, _, genders = synthetic()
    m = TextCategorizer().fit(texts, genders)
    assert m.classes == ["men", "women"]
    assert m.predict(["レディース ワンピース"])[0][0] == "women"
    assert m.predict(["men cotton shirt"])[0][0] == "men"


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        TextCategorizer().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ModelError):
        TextCategorizer().fit(["a"], ["x", "y"])
    with pytest.raises(ModelError):
        TextCategorizer().predict(["a"])
    with pytest.raises(NotFoundError):
        TextCategorizer.load(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": "other"}))
    (tmp_path / "model.npz").write_bytes(b"junk")
    with pytest.raises(ModelError):
        TextCategorizer.load(tmp_path)


def test_categorize_product_fills_fields(model: TextCategorizer) -> None:
    texts, _, genders = synthetic()
    models = {"product_type": model, "gender": TextCategorizer().fit(texts, genders)}
    out = categorize_product("kaze women pink summer dress", None, models)
    assert out["product_type"] == "dress" and out["gender"] == "women"
    assert 0 < out["product_type_confidence"] <= 1
    from_desc = categorize_product("", "A cotton shirt for men, long sleeves.", models)
    assert from_desc["product_type"] == "shirt"
    empty = categorize_product(None, None, models)
    assert empty["gender"] is None and empty["gender_confidence"] == 0.0


def test_shipped_models_load_and_predict() -> None:
    from modiste.cleaning.text import load_shipped_models, shipped_model_dir

    models = load_shipped_models()
    assert set(models) == {"product_type", "gender"}
    for name in models:
        size = sum(p.stat().st_size for p in shipped_model_dir(name).iterdir())
        assert size < 5_000_000
    out = categorize_product("Peter England Men Party Blue Jeans", None, models)
    assert out["product_type"] == "Jeans" and out["gender"] == "Men"
    assert out["product_type_confidence"] > 0.5
    with pytest.raises(NotFoundError):
        shipped_model_dir("colour")


def test_title_pairs_join_opening_and_closing_words() -> None:
    from modiste.cleaning.text_features import title_pairs

    assert title_pairs("red tape men brown shoes") == [
        "red|shoes",
        "red_tape|shoes",
        "red|brown_shoes",
    ]
    assert title_pairs("ワンピース") == []  # unspaced Japanese: one "word", no pairs


def test_pair_features_fit_save_load_and_japanese(tmp_path: Path) -> None:
    from modiste.cleaning.text_features import FeatureConfig

    texts, types, _ = synthetic()
    m = TextCategorizer(CategorizerConfig(features=FeatureConfig(pair_weight=0.5)))
    m.fit(texts, types)
    assert m._features is not None and len(m._features._blocks) == 3
    titles = [
        "urban men grey running shoes",
        "メンズ 長袖 シャツ 白",
        "kaze women red summer dress",
    ]
    assert [p for p, _ in m.predict(titles)] == ["shoes", "shirt", "dress"]
    m.save(tmp_path / "m")
    loaded = TextCategorizer.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(titles), m.predict_proba(titles), atol=1e-5)


def test_pair_block_left_out_when_no_title_has_two_words(tmp_path: Path) -> None:
    from modiste.cleaning.text_features import FeatureConfig

    texts = [
        "メンズ長袖シャツ",
        "メンズ半袖シャツ",
        "レディースワンピース",
        "レディース花柄ワンピース",
    ]
    m = TextCategorizer(CategorizerConfig(features=FeatureConfig(pair_weight=0.5)))
    m.fit(texts * 3, ["shirt", "shirt", "dress", "dress"] * 3)
    assert m._features is not None and len(m._features._blocks) == 2
    m.save(tmp_path / "m")
    assert TextCategorizer.load(tmp_path / "m").predict(["長袖シャツ"])[0][0] == "shirt"


def test_configs_saved_before_pair_features_load_without_them() -> None:
    from modiste.cleaning.text_features import FeatureConfig

    old: dict[str, object] = {"word_ngrams": [1, 2], "char_ngrams": [2, 5], "min_df": 1}
    old |= {"max_word_features": None, "max_char_features": None}
    assert FeatureConfig.from_dict(old).pair_weight == 0.0
