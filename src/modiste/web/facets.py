"""The search page's filter lists, shaped for people from the catalog's raw values.

Product types come as the feeds spell them ("Men/Tops/Jackets", "men/tops/jackets", "Pants"):
the category list offers each path once (case and spacing aside) with every level above it, so
"Men" or "Men/Tops" can be picked too; a filter means that category or below it
(:func:`modiste.index.filters.in_category`). Genders are offered once each in the catalog's
vocabulary ("Men" and "men" are one "Men"; :mod:`modiste.catalog.genders`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modiste.catalog.genders import GENDERS, gender_label, normalise_gender
from modiste.index.filters import CATEGORY_SEPARATORS, category_key


@dataclass(frozen=True)
class Option:
    value: str  # what the filter sends
    label: str  # what a person reads
    depth: int = 0  # levels below the top of its path


def _segments(path: str) -> list[str]:
    for sep in CATEGORY_SEPARATORS[1:]:
        path = path.replace(sep, CATEGORY_SEPARATORS[0])
    return [s.strip() for s in path.split("/") if s.strip()]


def category_options(product_types: Iterable[str]) -> list[Option]:
    """Every category path and its parents once, in tree order; the first spelling seen wins."""
    seen: dict[str, Option] = {}
    for raw in sorted(product_types, key=lambda t: (category_key(t), t)):
        parts = _segments(raw)
        for depth in range(len(parts)):
            path = "/".join(parts[: depth + 1])
            key = category_key(path)
            if key and key not in seen:
                seen[key] = Option(path, " › ".join(parts[: depth + 1]), depth)
    return [seen[k] for k in sorted(seen)]


def gender_options(genders: Iterable[str]) -> list[Option]:
    """Each gender once, as its canonical value with a human label: the vocabulary's order
    (women, men, unisex, girls, boys...), then values outside it alphabetically."""
    found = {g for g in map(normalise_gender, genders) if g}
    order = list(GENDERS)
    ranked = sorted(found, key=lambda g: (order.index(g) if g in GENDERS else len(order), g))
    return [Option(g, gender_label(g)) for g in ranked]
