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
    _colours: dict[str, str] = field(default_factory=dict)  # term -> its colour name
    _also: dict[str, list[str]] = field(default_factory=dict)  # term -> terms it also finds

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

    def add_colour(self, terms: list[str]) -> None:
        """A group whose first term is a colour name photos are given (colour_names.NAMES)."""
        self.add_group(terms)
        cleaned = [normalise(t) for t in terms if normalise(t)]
        # a user's group joining a shipped one keeps the shipped name (teal → blue)
        shipped = [self._colours[t] for t in cleaned if t in self._colours]
        for term in cleaned:
            self._colours[term] = shipped[0] if shipped else cleaned[0]

    def add_also(self, term: str, targets: list[str]) -> None:
        """One way: ``term`` (and its group) also finds ``targets``' groups ("coat" → jacket)."""
        key = normalise(term)
        self._also.setdefault(key, []).extend(normalise(t) for t in targets if normalise(t))

    def _group(self, term: str) -> frozenset[str]:
        gid = self._by_term.get(term)
        return self.groups[gid] if gid is not None else frozenset({term})

    def expand(self, term: str) -> frozenset[str]:
        """The term's group, plus the groups its group's ``also:`` entries name (one level)."""
        base = self._group(normalise(term))
        extra = [self._group(t) for w in base for t in self._also.get(w, [])]
        return base.union(*extra) if extra else base

    def colour(self, concept: frozenset[str]) -> str | None:
        """The colour name a concept stands for ("赤" → "red"), None for other concepts."""
        return next((self._colours[t] for t in sorted(concept) if t in self._colours), None)

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
        colours = data.get("colours") or []
        if not isinstance(colours, list) or not all(isinstance(g, list) and g for g in colours):
            raise ConfigError(f"{name}: 'colours:' must be a list of term lists")
        also = data.get("also") or {}
        if not isinstance(also, dict) or not all(isinstance(v, list) for v in also.values()):
            raise ConfigError(f"{name}: 'also:' must map a term to a list of terms")
        for group in groups:
            syn.add_group([str(t) for t in group])
        for group in colours:
            syn.add_colour([str(t) for t in group])
        for term, targets in also.items():
            syn.add_also(str(term), [str(t) for t in targets])
    return syn
