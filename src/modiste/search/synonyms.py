"""Fashion synonyms: a query term is expanded to every term of its concept group."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from modiste.errors import ConfigError

_SPLIT = re.compile(r"[\s,;/]+")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width, ﾊﾟﾝﾂ → パンツ), lower case, single spaces.

    Control characters are dropped: FTS5 can't take a NUL inside a quoted term.
    """
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass
class Synonyms:
    """Concept groups, and the longest phrase in any group (for greedy phrase matching)."""

    groups: list[frozenset[str]] = field(default_factory=list)
    _by_term: dict[str, int] = field(default_factory=dict)
    _max_words: int = 1

    def add_group(self, terms: list[str]) -> None:
        cleaned = [normalise(t) for t in terms if normalise(t)]
        if not cleaned:
            return
        merged = set(cleaned)
        existing = {self._by_term[t] for t in cleaned if t in self._by_term}
        for gid in existing:  # a term in two groups joins them
            merged |= self.groups[gid]
        gid = len(self.groups)
        self.groups.append(frozenset(merged))
        for term in merged:
            self._by_term[term] = gid
            self._max_words = max(self._max_words, len(term.split()))

    def expand(self, term: str) -> frozenset[str]:
        term = normalise(term)
        gid = self._by_term.get(term)
        return self.groups[gid] if gid is not None else frozenset({term})

    def concepts(self, query: str) -> list[frozenset[str]]:
        """Split a query into concepts (multi-word synonyms first), each with its alternatives."""
        words = [w for w in _SPLIT.split(normalise(query)) if w]
        out: list[frozenset[str]] = []
        i = 0
        while i < len(words):
            for n in range(min(self._max_words, len(words) - i), 0, -1):
                phrase = " ".join(words[i : i + n])
                if n == 1 or phrase in self._by_term:
                    out.append(self.expand(phrase))
                    i += n
                    break
        return out


def load_synonyms(*paths: Path | None) -> Synonyms:
    """The shipped synonyms, merged with any user files given."""
    syn = Synonyms()
    sources: list[tuple[str, str]] = [
        (
            "built-in",
            resources.files("modiste.search").joinpath("data/synonyms.yaml").read_text("utf-8"),
        )
    ]
    for path in paths:
        if path is not None:
            try:
                sources.append((str(path), Path(path).read_text("utf-8")))
            except OSError as e:
                raise ConfigError(f"{path}: cannot read synonyms file ({e.strerror})") from e
    for name, text in sources:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{name}: invalid YAML ({e})") from e
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise ConfigError(f"{name}: expected 'groups:' with a list of term lists")
        for group in groups:
            syn.add_group([str(t) for t in group])
    return syn
