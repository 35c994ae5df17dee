"""The inverted payload map must select exactly the ids ``filters.matches`` accepts."""

from __future__ import annotations

import numpy as np
import pytest

from modiste.index.filters import matches, parse_filters
from modiste.index.payload_map import PayloadMap

FILTERS = [
    {"label": "top"},
    {"label": ["top", "dress"]},
    {"tags": "silk"},
    {"price": {"gte": 10, "lte": 50}},
    {"price": {"gt": 10, "lt": 50}},
    {"price": {"gt": 95}},
    {"size": 1},
    {"size": [1, "1"]},
    {"label": "dress", "price": {"lte": 40}, "tags": ["red", "silk"]},
    {"label": "coat"},
    {"missing": "x"},
]


def random_payload(rng: np.random.Generator) -> dict:
    p: dict = {"label": ["top", "dress", "shoe"][int(rng.integers(3))]}
    r = rng.random()
    # Prices as ints, floats, NaN, a bool (never a number) or a list of numbers.
    if r < 0.3:
        p["price"] = int(rng.integers(0, 100))
    elif r < 0.6:
        p["price"] = float(rng.uniform(0, 100))
    elif r < 0.65:
        p["price"] = float("nan")
    elif r < 0.7:
        p["price"] = True
    elif r < 0.8:
        p["price"] = [int(v) for v in rng.integers(0, 100, 2)]
    if rng.random() < 0.5:
        p["tags"] = [["red", "silk", "wool"][int(i)] for i in rng.integers(0, 3, 2)] + [{"x": 1}]
    p["size"] = [1, 1.0, "1", True, None][int(rng.integers(5))]
    return p


def check(pmap: PayloadMap, payloads: dict[int, dict]) -> None:
    for flt in FILTERS:
        conds = parse_filters(flt)
        want = sorted(i for i, p in payloads.items() if matches(p, conds))
        got = pmap.ids(conds)
        assert got.dtype == np.int64 and got.tolist() == want, flt


@pytest.mark.parametrize("base", [0, 10**12])  # dense ids (boolean masks) and sparse (sorting)
def test_map_agrees_with_matches_through_adds_replacements_and_removals(base):
    rng = np.random.default_rng(0)
    payloads: dict[int, dict] = {}
    pmap = PayloadMap(payloads)
    new = {base + i: random_payload(rng) for i in range(300)}
    payloads.update(new)
    pmap.added(new.items())
    check(pmap, payloads)  # fields are indexed on first use, from the live payloads
    for _ in range(5):
        changed = {base + int(i): random_payload(rng) for i in rng.choice(400, 60, replace=False)}
        pmap.removed([(i, payloads[i]) for i in changed if i in payloads])
        payloads.update(changed)
        pmap.added(changed.items())
        gone = [int(i) for i in rng.choice(sorted(payloads), 30, replace=False)]
        pmap.removed([(i, payloads.pop(i)) for i in gone])
        check(pmap, payloads)


def test_reset_forgets_the_old_payloads():
    pmap = PayloadMap({1: {"label": "top"}})
    assert pmap.ids(parse_filters({"label": "top"})).tolist() == [1]
    pmap.reset({2: {"label": "top"}, 3: {"label": "shoe"}})
    assert pmap.ids(parse_filters({"label": "top"})).tolist() == [2]


@pytest.mark.parametrize("flt", [{"label": "coat"}, {"price": {"gte": 1e9}}])
def test_no_match_is_an_empty_int_array(flt):
    got = PayloadMap({1: {"label": "top", "price": 3}}).ids(parse_filters(flt))
    assert got.dtype == np.int64 and len(got) == 0
