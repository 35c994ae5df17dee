"""Payload filters shared by every backend.

Three shapes, combined with AND across fields::

    {"category": "top"}                    equality
    {"seller": ["a", "b"]}                 membership (any of)
    {"price": {"gte": 10, "lte": 50}}      numeric range (gt, gte, lt, lte)

They are validated once here, so a malformed filter fails with the same message on FAISS (which
looks the matching ids up in its payload map) and on Qdrant (which turns them into a native
``Filter``).

A category filter is not a payload shape: a category path ("Men/Tops/Jackets") means that
category or one below it, compared segment by segment (:func:`in_category`), which neither
backend can do natively; search checks it on the hits (``search/visual.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modiste.errors import VectorIndexError

RANGE_OPS = ("gt", "gte", "lt", "lte")
CATEGORY_SEPARATORS = ("/", ">")  # "Men/Tops/Jackets" and Google's "Apparel > Clothing"


def category_key(path: str | None) -> str:
    """A category path as search compares it: lower case, no spaces, "/" between segments.

    Spaces are dropped rather than trimmed so that SQL can compute the same key with two
    ``replace()`` calls (``search/text.py``): "Men > Tops" and "men/tops" are one category.
    """
    key = (path or "").lower().replace(" ", "")
    for sep in CATEGORY_SEPARATORS[1:]:
        key = key.replace(sep, CATEGORY_SEPARATORS[0])
    return "/".join(seg for seg in key.split("/") if seg)


def in_category(product_type: str | None, category: str | None) -> bool:
    """``product_type`` is ``category`` or lies below it: "Men/Tops" holds "Men/Tops/Jackets"
    but not "Women/Tops/Jackets" nor "Men/Topshop" (no substring match). No category: all."""
    wanted = category_key(category)
    if not wanted:
        return True
    have = category_key(product_type)
    return have == wanted or have.startswith(wanted + "/")


@dataclass(frozen=True)
class Condition:
    """One field condition: exactly one of ``equals``, ``any_of`` or ``range`` is set."""

    key: str
    kind: str  # "eq" | "any" | "range"
    value: Any


def parse_filters(filters: Mapping[str, Any] | None) -> list[Condition]:
    """Turn the user's dict into conditions, refusing shapes no backend can honour."""
    if not filters:
        return []
    if not isinstance(filters, Mapping):
        raise VectorIndexError(f"filters must be a mapping, got {type(filters).__name__}")
    out: list[Condition] = []
    for key, value in filters.items():
        if not isinstance(key, str) or not key:
            raise VectorIndexError(f"filter keys must be non-empty strings, got {key!r}")
        if isinstance(value, Mapping):
            bad = set(value) - set(RANGE_OPS)
            if bad or not value:
                raise VectorIndexError(
                    f"filter {key!r}: range operators must be among {RANGE_OPS}, "
                    f"got {sorted(value)}"
                )
            for op, bound in value.items():
                if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                    raise VectorIndexError(f"filter {key!r}: {op} needs a number, got {bound!r}")
            out.append(Condition(key, "range", {k: float(v) for k, v in value.items()}))
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            _check_scalars(key, items)
            out.append(Condition(key, "any", items))
        else:
            _check_scalars(key, [value])
            out.append(Condition(key, "eq", value))
    return out


def _check_scalars(key: str, values: list[Any]) -> None:
    for v in values:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            # Qdrant matches keywords and integers only; refusing floats/bools everywhere keeps
            # the two backends congruent.
            raise VectorIndexError(
                f"filter {key!r}: match values must be strings or integers, got {v!r}"
            )


def matches(payload: Mapping[str, Any], conditions: list[Condition]) -> bool:
    """Evaluate conditions on one payload: the reference the FAISS payload map must agree with.

    A list field matches on any item.
    """
    for cond in conditions:
        if cond.key not in payload:
            return False
        field = payload[cond.key]
        values = field if isinstance(field, list) else [field]
        if cond.kind == "eq":
            ok = any(v == cond.value and type(v) is not bool for v in values)
        elif cond.kind == "any":
            ok = any(v in cond.value and type(v) is not bool for v in values)
        else:
            ok = any(_in_range(v, cond.value) for v in values)
        if not ok:
            return False
    return True


def _in_range(v: Any, bounds: dict[str, float]) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return (
        ("gt" not in bounds or v > bounds["gt"])
        and ("gte" not in bounds or v >= bounds["gte"])
        and ("lt" not in bounds or v < bounds["lt"])
        and ("lte" not in bounds or v <= bounds["lte"])
    )
