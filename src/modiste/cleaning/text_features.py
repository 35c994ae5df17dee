"""TF-IDF features for product titles: word 1–2-grams plus character 2–5-grams inside words.

Character n-grams are what make Japanese and Chinese titles work (no spaces to split words on) and
what survive typos and brand spellings. Fitting uses scikit-learn; the fitted state is plain arrays
(terms and idf weights) so a model file needs no pickle to load.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC (full-width Latin and digits to ASCII), lower case, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text or "").lower()).strip()


@dataclass(frozen=True)
class FeatureConfig:
    """How titles become vectors; stored in the model JSON so loading rebuilds the same features."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_word_features: int | None = None
    max_char_features: int | None = None
    min_df: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        d = dict(d)
        d["word_ngrams"] = tuple(d["word_ngrams"])
        d["char_ngrams"] = tuple(d["char_ngrams"])
        return cls(**d)


def _token_kw(analyzer: str) -> dict[str, Any]:
    # One-character words count ("t shirt", "2 pack"); sklearn warns if given for char analyzers.
    return {"token_pattern": r"(?u)\b\w+\b"} if analyzer == "word" else {}


class _Block:
    """One tf-idf block (word or char): a fixed vocabulary, idf weights, sublinear tf, l2 rows."""

    def __init__(self, analyzer: str, ngrams: tuple[int, int], terms: list[str], idf: np.ndarray):
        from sklearn.feature_extraction.text import CountVectorizer

        self.terms, self.idf = terms, idf.astype(np.float32)
        self._cv = CountVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            lowercase=False,
            vocabulary={t: i for i, t in enumerate(terms)},
            **_token_kw(analyzer),
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        m = self._cv.transform(texts).astype(np.float32).tocsr()
        m.data = 1.0 + np.log(m.data)
        m = m @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ m)


class TextFeaturizer:
    """Word + char tf-idf; ``fit`` learns vocabularies, ``transform`` is stateless afterwards."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._blocks: list[_Block] = []

    @property
    def n_features(self) -> int:
        return sum(len(b.terms) for b in self._blocks)

    def fit(self, texts: Sequence[str]) -> TextFeaturizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        docs = [normalize_text(t) for t in texts]
        self._blocks = []
        for analyzer, ngrams, cap in (
            ("word", c.word_ngrams, c.max_word_features),
            ("char_wb", c.char_ngrams, c.max_char_features),
        ):
            tv = TfidfVectorizer(
                analyzer=analyzer,
                ngram_range=ngrams,
                lowercase=False,
                sublinear_tf=True,
                max_features=cap,
                min_df=c.min_df,
                **_token_kw(analyzer),
            ).fit(docs)
            terms = [""] * len(tv.vocabulary_)
            for t, i in tv.vocabulary_.items():
                terms[i] = t
            self._blocks.append(_Block(analyzer, ngrams, terms, tv.idf_))
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        docs = [normalize_text(t) for t in texts]
        return sp.hstack([b.transform(docs) for b in self._blocks], format="csr")

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON part, array part) for saving."""
        meta = {"config": self.config.to_dict(), "terms": [b.terms for b in self._blocks]}
        arrays = {f"idf_{i}": b.idf for i, b in enumerate(self._blocks)}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TextFeaturizer:
        f = cls(FeatureConfig.from_dict(meta["config"]))
        c = f.config
        specs = [("word", c.word_ngrams), ("char_wb", c.char_ngrams)]
        f._blocks = [
            _Block(a, ng, list(terms), arrays[f"idf_{i}"])
            for i, ((a, ng), terms) in enumerate(zip(specs, meta["terms"], strict=True))
        ]
        return f
