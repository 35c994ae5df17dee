"""Inverted payload map for the FAISS backend: field -> value -> ids.

A filter becomes the sorted array of matching ids without reading a single payload, and FAISS
then searches only those ids (an ``IDSelector``), so a filtered search returns exactly ``k`` hits
with no over-fetching. It reproduces :func:`modiste.index.filters.matches` (the reference):
a list field matches on any item, bools are neither numbers nor match values, and only JSON
scalars (str, int, float) are indexed, since payloads are saved as JSON anyway.

A field is indexed the first time a filter names it (from the live payloads), then kept up to
date on every add and remove: fields nobody filters on (``product_id``, ``image_id``) cost no
memory. Id arrays are cached per value and per range field, and dropped when a change touches
them. Range bounds are compared in float64, so integers past 2**53 may round at the boundary.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from modiste.index.filters import Condition

EMPTY = np.empty(0, dtype=np.int64)
MASK_MAX_IDS = 1 << 26  # id span up to which filters are combined as boolean masks (64 MB)


def _items(field: Any) -> Iterator[Any]:
    for v in field if isinstance(field, list) else (field,):
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            yield v


class PayloadMap:
    """Which ids carry which value, per filtered field, over the live ``payloads`` dict."""

    def __init__(self, payloads: Mapping[int, Mapping[str, Any]]) -> None:
        self.reset(payloads)

    def reset(self, payloads: Mapping[int, Mapping[str, Any]]) -> None:
        """Start over from ``payloads`` (after a load or a rebuild replaced them all)."""
        self._payloads = payloads
        self._fields: dict[str, dict[Any, set[int]]] = {}
        self._arrays: dict[tuple[str, Any], np.ndarray] = {}
        self._ranges: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # --- upkeep, called by the index around every change -------------------------------------
    def added(self, items: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        """Record new (id, payload) pairs; ids being replaced must go through ``removed`` first."""
        if self._fields:
            for id_, payload in items:
                self._update(id_, payload, insert=True)

    def removed(self, items: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        if self._fields:
            for id_, payload in items:
                self._update(id_, payload, insert=False)

    def _update(self, id_: int, payload: Mapping[str, Any], *, insert: bool) -> None:
        for key, values in self._fields.items():
            if key not in payload:
                continue
            for v in _items(payload[key]):
                if insert:
                    values.setdefault(v, set()).add(id_)
                else:
                    ids = values.get(v)
                    if ids is not None:
                        ids.discard(id_)
                        if not ids:
                            del values[v]
                self._arrays.pop((key, v), None)
                if not isinstance(v, str):
                    self._ranges.pop(key, None)

    # --- lookups -----------------------------------------------------------------------------
    def ids(self, conditions: list[Condition]) -> np.ndarray:
        """Sorted unique ids whose payload passes every condition (AND)."""
        parts = [self._condition_ids(c) for c in conditions]
        if len(parts) == 1 and conditions[0].kind == "eq":
            return parts[0]  # a cached sorted array
        if any(not len(p) for p in parts):
            return EMPTY
        top = max(int(p.max()) for p in parts) + 1
        if top > MASK_MAX_IDS:  # sparse ids: sort-based set operations
            out = np.unique(parts[0])
            for part in parts[1:]:
                out = np.intersect1d(out, part)
            return out
        # Dense ids (database keys): a boolean mask per condition, no sorting at all.
        keep = np.zeros(top, dtype=bool)
        keep[parts[0]] = True
        for part in parts[1:]:
            mask = np.zeros(top, dtype=bool)
            mask[part] = True
            keep &= mask
        return np.flatnonzero(keep)

    def _condition_ids(self, cond: Condition) -> np.ndarray:
        if cond.kind == "eq":
            return self._value_ids(cond.key, cond.value)
        if cond.kind == "any":
            parts = [self._value_ids(cond.key, v) for v in set(cond.value)]
            parts = [p for p in parts if len(p)]
            if len(parts) <= 1:
                return parts[0] if parts else EMPTY
            return np.concatenate(parts)  # ``ids`` dedupes (a list field can hit twice)
        return self._range_ids(cond.key, cond.value)

    def _field(self, key: str) -> dict[Any, set[int]]:
        values = self._fields.get(key)
        if values is None:
            values = {}
            for id_, payload in self._payloads.items():
                if key in payload:
                    for v in _items(payload[key]):
                        values.setdefault(v, set()).add(id_)
            self._fields[key] = values
        return values

    def _value_ids(self, key: str, value: Any) -> np.ndarray:
        arr = self._arrays.get((key, value))
        if arr is None:
            ids = self._field(key).get(value, ())
            arr = np.sort(np.fromiter(ids, np.int64, len(ids)))
            self._arrays[(key, value)] = arr
        return arr

    def _range_ids(self, key: str, bounds: dict[str, float]) -> np.ndarray:
        numbers, ids = self._range_arrays(key)
        lo, hi = 0, len(numbers)
        if "gte" in bounds:
            lo = max(lo, int(np.searchsorted(numbers, bounds["gte"], "left")))
        if "gt" in bounds:
            lo = max(lo, int(np.searchsorted(numbers, bounds["gt"], "right")))
        if "lte" in bounds:
            hi = min(hi, int(np.searchsorted(numbers, bounds["lte"], "right")))
        if "lt" in bounds:
            hi = min(hi, int(np.searchsorted(numbers, bounds["lt"], "left")))
        # Unsorted, and an id with several numbers in range (a list field) comes back once per
        # number: ``ids`` dedupes and sorts whatever the conditions give.
        return ids[lo:hi] if lo < hi else EMPTY

    def _range_arrays(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Every (number, id) pair of the field, sorted by number; NaN never matches a range."""
        cached = self._ranges.get(key)
        if cached is None:
            values = self._field(key)
            nums = [v for v in values if not isinstance(v, str) and v == v]
            sizes = [len(values[v]) for v in nums]
            ids = np.fromiter(
                itertools.chain.from_iterable(values[v] for v in nums), np.int64, sum(sizes)
            )
            numbers = np.repeat(np.asarray(nums, dtype=np.float64), sizes)
            order = np.argsort(numbers, kind="stable")
            cached = self._ranges[key] = (numbers[order], ids[order])
        return cached
