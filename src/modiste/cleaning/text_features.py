"""TF-IDF features for product titles: word 1–2-grams, character 2–5-grams inside words, and
optionally first-word × last-word pairs.

Character n-grams are what make Japanese and Chinese titles work (no spaces to split words on) and
what survive typos and brand spellings. Pair features join a title's opening words (usually the
brand) with its closing words (usually the product noun): "catwalk|shoes" and "puma|shoes" point to
different article types, which a linear model over single words and adjacent bigrams cannot say.
Fitting uses scikit-learn; the fitted state is plain arrays (terms and idf weights) so a model file
needs no pickle to load.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")


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
    pair_weight: float = 0.0  # scale of the brand × noun pair block; 0 leaves it out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        d = dict(d)
        d["word_ngrams"] = tuple(d["word_ngrams"])
        d["char_ngrams"] = tuple(d["char_ngrams"])
        d.setdefault("pair_weight", 0.0)  # files written before pair features existed
        return cls(**d)


def title_pairs(doc: str) -> list[str]:
    """First word × last word, first two words × last word, first word × last two words."""
    w = _WORDS.findall(doc)
    if len(w) < 2:
        return []
    return [f"{w[0]}|{w[-1]}", f"{w[0]}_{w[1]}|{w[-1]}", f"{w[0]}|{w[-2]}_{w[-1]}"]


def _analyzer_kw(analyzer: str) -> dict[str, Any]:
    # One-character words count ("t shirt", "2 pack"); sklearn warns if given for char analyzers.
    if analyzer == "word":
        return {"analyzer": "word", "token_pattern": r"(?u)\b\w+\b"}
    if analyzer == "pairs":
        return {"analyzer": title_pairs}
    return {"analyzer": analyzer}


def _block_specs(c: FeatureConfig) -> list[tuple[str, tuple[int, int], int | None, float]]:
    """(analyzer, n-gram range, vocabulary cap, block weight) for each block the config asks for."""
    specs = [
        ("word", c.word_ngrams, c.max_word_features, 1.0),
        ("char_wb", c.char_ngrams, c.max_char_features, 1.0),
    ]
    if c.pair_weight > 0:
        specs.append(("pairs", (1, 1), None, c.pair_weight))
    return specs


class _Block:
    """One tf-idf block (word, char or pairs): a fixed vocabulary, idf, sublinear tf, l2 rows.

    Counting is scikit-learn's ``CountVectorizer`` with a fixed vocabulary, written out here
    (same analyzers, same counts: ``tests/unit/cleaning/test_text_features.py``) so that a
    loaded model never imports scikit-learn, which cost ~1 s of every ingest and server start.
    """

    def __init__(
        self,
        analyzer: str,
        ngrams: tuple[int, int],
        terms: list[str],
        idf: np.ndarray,
        weight: float = 1.0,
    ):
        self.terms, self.weight = terms, weight
        self.idf = idf.astype(np.float32)
        self.vocabulary = {t: i for i, t in enumerate(terms)}
        self.analyze = _analyzer(analyzer, ngrams)

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """(len(texts), len(terms)) term counts, float32; terms outside the vocabulary ignored."""
        indptr, indices, values = [0], list[int](), list[int]()
        for doc in texts:
            found = Counter(j for j in map(self.vocabulary.get, self.analyze(doc)) if j is not None)
            indices += found.keys()
            values += found.values()
            indptr.append(len(indices))
        m = sp.csr_matrix(
            (
                np.asarray(values, dtype=np.float32),
                np.asarray(indices, dtype=np.int64),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(texts), len(self.terms)),
        )
        m.sort_indices()
        return m

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        m = self.counts(texts)
        m.data = 1.0 + np.log(m.data)
        m = m @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()) / self.weight  # l2 * w
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ m)


def _analyzer(analyzer: str, ngrams: tuple[int, int]) -> Callable[[str], list[str]]:
    """A document's terms as ``CountVectorizer(lowercase=False, **_analyzer_kw(analyzer))``
    makes them."""
    if analyzer == "pairs":
        return title_pairs
    if analyzer == "word":
        return lambda doc: _word_ngrams(_TOKENS.findall(doc), ngrams)
    if analyzer == "char_wb":
        return lambda doc: _char_wb_ngrams(doc, ngrams)
    raise ValueError(f"unknown analyzer {analyzer!r}")


_TOKENS = re.compile(r"(?u)\b\w+\b")  # _analyzer_kw's token pattern for words
_RUNS_OF_SPACES = re.compile(r"\s\s+")


def _word_ngrams(tokens: list[str], ngrams: tuple[int, int]) -> list[str]:
    lo, hi = ngrams
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        out += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return out


def _char_wb_ngrams(doc: str, ngrams: tuple[int, int]) -> list[str]:
    """Character n-grams inside words padded with a space; a word shorter than n counts once."""
    lo, hi = ngrams
    out = []
    for word in _RUNS_OF_SPACES.sub(" ", doc).split():
        w = f" {word} "
        for n in range(lo, hi + 1):
            if len(w) <= n:
                out.append(w)
                break
            out += [w[i : i + n] for i in range(len(w) - n + 1)]
    return out


class TextFeaturizer:
    """Word + char (+ pair) tf-idf; ``fit`` learns vocabularies, ``transform`` is then stateless."""

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
        for analyzer, ngrams, cap, weight in _block_specs(c):
            tv = TfidfVectorizer(
                ngram_range=ngrams,
                lowercase=False,
                sublinear_tf=True,
                max_features=cap,
                min_df=c.min_df,
                **_analyzer_kw(analyzer),
            )
            try:
                tv.fit(docs)
            except ValueError:  # no title has two words (e.g. unspaced Japanese): no pairs
                if analyzer != "pairs":
                    raise
                continue
            terms = [""] * len(tv.vocabulary_)
            for t, i in tv.vocabulary_.items():
                terms[i] = t
            self._blocks.append(_Block(analyzer, ngrams, terms, tv.idf_, weight))
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
        specs = _block_specs(f.config)[: len(meta["terms"])]  # a pair block may have been empty
        f._blocks = [
            _Block(a, ng, list(terms), arrays[f"idf_{i}"], w)
            for i, ((a, ng, _, w), terms) in enumerate(zip(specs, meta["terms"], strict=True))
        ]
        return f
