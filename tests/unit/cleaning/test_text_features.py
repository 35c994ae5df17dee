"""The title features count terms exactly as scikit-learn's ``CountVectorizer`` does, without it.

A loaded text model counts with :class:`modiste.cleaning.text_features._Block` (so serving and
the ingest never import scikit-learn); training still fits with scikit-learn. The counts must be
the same matrix for every analyzer, including unspaced Japanese, one-letter words, repeated
spaces and titles shorter than an n-gram.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from modiste.cleaning.text_features import (
    FeatureConfig,
    TextFeaturizer,
    _analyzer_kw,
    _Block,
    _block_specs,
    normalize_text,
)

TITLES = [
    "Puma Men Black Running Shoes",
    "t shirt 2 pack",
    "Catwalk Women Gold-Toned Flats",
    "ナイキ ランニングシューズ メンズ",
    "连衣裙 女 夏季",
    "a",
    "",
    "Levi's  511   Slim Fit Jeans (Blue)",
    "Nike Air Max 90 – white/red, size 42",
    "x y",
    "Ｔシャツ　白",
]


@pytest.mark.parametrize("analyzer, ngrams", [("word", (1, 2)), ("word", (2, 3)),
                                              ("char_wb", (2, 5)), ("char_wb", (1, 1)),
                                              ("pairs", (1, 1))])  # fmt: skip
def test_counts_equal_count_vectorizers(analyzer: str, ngrams: tuple[int, int]) -> None:
    docs = [normalize_text(t) for t in TITLES] + TITLES  # normalised as in use, and raw
    fitted = CountVectorizer(ngram_range=ngrams, lowercase=False, **_analyzer_kw(analyzer))
    fitted.fit(docs[:8])  # the vocabulary of some titles: the others hold unknown terms
    terms = [""] * len(fitted.vocabulary_)
    for term, i in fitted.vocabulary_.items():
        terms[i] = term
    expected = fitted.transform(docs).astype(np.float32).tocsr()
    got = _Block(analyzer, ngrams, terms, np.ones(len(terms))).counts(docs)
    assert got.shape == expected.shape
    assert (got != expected).nnz == 0
    assert got.nnz > 0


def test_a_fitted_featurizer_reloads_to_the_same_vectors_without_sklearn() -> None:
    config = FeatureConfig(pair_weight=0.5)
    featurizer = TextFeaturizer(config).fit(TITLES)
    assert len(featurizer._blocks) == len(_block_specs(config))
    meta, arrays = featurizer.state()
    again = TextFeaturizer.from_state(meta, arrays)
    a, b = featurizer.transform(TITLES), again.transform(TITLES)
    np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=0, atol=0)
    # loading and transforming imports no scikit-learn
    code = (
        "import sys\n"
        "from modiste.cleaning.text_features import TextFeaturizer\n"
        "import numpy as np\n"
        f"meta = {meta!r}\n"
        "arrays = {k: np.load(sys.argv[1])[k] for k in np.load(sys.argv[1]).files}\n"
        f"m = TextFeaturizer.from_state(meta, arrays).transform({TITLES!r})\n"
        "print(m.nnz, 'sklearn' in sys.modules)\n"
    )
    with tempfile.NamedTemporaryFile(suffix=".npz") as fh:
        np.savez(fh.name, **arrays)
        done = subprocess.run(
            [sys.executable, "-c", code, fh.name], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(a.nnz), "False"]
