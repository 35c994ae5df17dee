"""DuplicateFinder: grouping, the pair classification rules, and incremental = batch."""

from __future__ import annotations

import random

import pytest
from dedupe_helpers import altered, fp, photo

from modiste.cleaning.dedupe import (
    DedupeConfig,
    DedupeItem,
    DuplicateFinder,
    MatchKind,
    Offer,
    UnionFind,
)


def item(id_: str, seed: int, seller: str = "shop", product: str | None = None, **kw) -> DedupeItem:
    kind = kw.pop("alter", None)
    im = photo(seed) if kind is None else altered(photo(seed), kind)
    return DedupeItem(id=id_, seller=seller, product_id=product, fingerprint=fp(im), **kw)


def kinds_by_pair(finder: DuplicateFinder) -> dict[frozenset[str], MatchKind]:
    return {frozenset((m.a, m.b)): m.kind for m in finder.matches()}


def test_union_find_groups() -> None:
    uf = UnionFind()
    for a, b in [(1, 2), (3, 4), (2, 3), (5, 6)]:
        uf.union(a, b)
    uf.find(7)
    assert sorted(sorted(s) for s in uf.sets()) == [[1, 2, 3, 4], [5, 6], [7]]
    assert uf.find(1) == uf.find(4) != uf.find(5)


def test_exact_and_near_duplicate_within_a_product() -> None:
    finder = DuplicateFinder()
    finder.add([item("a", 1, product="p"), item("a2", 1, product="p"), item("b", 2, product="p")])
    finder.add([item("a3", 1, product="p", alter="resize")])
    kinds = kinds_by_pair(finder)
    assert kinds[frozenset(("a", "a2"))] is MatchKind.EXACT
    assert kinds[frozenset(("a", "a3"))] is MatchKind.NEAR_DUPLICATE
    assert not any("b" in pair for pair in kinds)
    (group,) = finder.groups()
    assert set(group.item_ids) == {"a", "a2", "a3"}
    assert all(m.action == "drop" for m in finder.matches())


def test_relisted_product_same_seller() -> None:
    finder = DuplicateFinder()
    finder.add(
        [item("p1-1", 1, product="p1", price=20.0), item("p1-2", 2, product="p1", price=20.0)]
    )
    new = finder.add(
        [
            item("p2-1", 1, product="p2", alter="brightness", price=18.0),
            item("p2-2", 2, product="p2", alter="crop", price=18.0),
        ]
    )
    assert {m.kind for m in new} == {MatchKind.RELISTED}
    assert all(m.action == "skip_import" for m in new)
    (offer_group,) = finder.offer_groups()
    assert offer_group.offers == (Offer("shop", "p1", 20.0), Offer("shop", "p2", 18.0))


def test_photo_shared_by_jacket_and_skirt_is_kept() -> None:
    finder = DuplicateFinder()
    finder.add(
        [
            item("jacket-look", 10, product="jacket"),
            item("jacket-back", 11, product="jacket"),
            item("jacket-zoom", 12, product="jacket"),
            item("skirt-look", 10, product="skirt"),  # the same shot, same bytes
            item("skirt-zoom", 13, product="skirt"),
        ]
    )
    (match,) = finder.matches()
    assert match.kind is MatchKind.SHARED_PHOTO and match.exact
    assert match.action == "keep"
    assert finder.offer_groups() == []


def test_same_item_at_two_sellers_forms_an_offer_group_with_prices() -> None:
    finder = DuplicateFinder()
    finder.add([item("a-1", 20, seller="alpha", product="A1", price=49.0)])
    finder.add([item("b-1", 20, seller="beta", product="B7", price=45.5, alter="repad")])
    finder.add([item("c-1", 21, seller="gamma", product="C1", price=10.0)])  # unrelated
    (match,) = finder.matches()
    assert match.kind is MatchKind.SAME_ITEM_OTHER_SELLER
    (group,) = finder.offer_groups()
    assert group.sellers == ("alpha", "beta")
    assert {(o.seller, o.price) for o in group.offers} == {("alpha", 49.0), ("beta", 45.5)}


def test_verdict_follows_product_context_as_it_grows() -> None:
    """One image each: relisted; once both products show other, different photos: shared."""
    finder = DuplicateFinder()
    finder.add([item("x", 30, product="P"), item("y", 30, product="Q", alter="resize")])
    assert kinds_by_pair(finder)[frozenset(("x", "y"))] is MatchKind.RELISTED
    finder.add([item("x2", 31, product="P"), item("y2", 32, product="Q")])
    assert kinds_by_pair(finder)[frozenset(("x", "y"))] is MatchKind.SHARED_PHOTO


def test_find_duplicates_probes_without_indexing() -> None:
    finder = DuplicateFinder()
    finder.add([item("a", 40, product="p"), item("b", 41, product="q")])
    probe = item("new", 40, product="r", alter="crop")
    (match,) = finder.find_duplicates(probe)
    assert (match.a, match.b) == ("new", "a") and match.kind is MatchKind.RELISTED
    assert "new" not in finder and len(finder) == 2
    assert any("aligned thumbnails" in r for r in match.reasons)


def test_items_without_fingerprint_match_on_content_hash_only() -> None:
    finder = DuplicateFinder()
    finder.add(
        [
            DedupeItem(id="1", product_id="p", content_hash="abc"),
            DedupeItem(id="2", product_id="q", content_hash="abc", seller="other"),
            DedupeItem(id="3", product_id="r", content_hash="def"),
        ]
    )
    (match,) = finder.matches()
    assert {match.a, match.b} == {"1", "2"} and match.exact


def mixed_items() -> list[DedupeItem]:
    """Copies within and across products and sellers, with distractors."""
    specs = [
        ("a", 50, "s1", "p1", None),
        ("b", 50, "s1", "p2", "resize"),
        ("c", 51, "s2", "p3", None),
        ("d", 51, "s1", "p4", "crop"),
        ("e", 52, "s1", "p1", None),
        ("f", 53, "s3", "p9", "brightness"),
        ("g", 53, "s3", "p9", None),
        ("h", 54, "s2", "p5", "repad"),
        ("i", 55, "s2", "p6", None),
    ]
    return [item(i, seed, seller=s, product=p, alter=k) for i, seed, s, p, k in specs]


def test_incremental_add_equals_batch() -> None:
    items = mixed_items()
    batch = DuplicateFinder()
    batch.add(items)
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    incremental = DuplicateFinder()
    for it in shuffled:
        incremental.add([it])
    assert kinds_by_pair(incremental) == kinds_by_pair(batch)
    assert len(kinds_by_pair(batch)) == 3  # a-b, c-d, f-g
    assert {frozenset(g.item_ids) for g in incremental.groups()} == {
        frozenset(g.item_ids) for g in batch.groups()
    }
    assert {g.offers for g in incremental.offer_groups()} == {
        g.offers for g in batch.offer_groups()
    }


def test_restored_pairs_plus_new_images_equal_batch() -> None:
    items = mixed_items()
    batch = DuplicateFinder()
    batch.add(items)
    earlier = DuplicateFinder()
    earlier.add(items[:5])
    stored = earlier.evidence()  # what the catalog keeps between ingests
    resumed = DuplicateFinder()
    resumed.restore(items[:5], [*stored, ("a", "gone", stored[0][2])])  # a deleted image
    assert kinds_by_pair(resumed) == kinds_by_pair(earlier)
    resumed.add(items[5:])
    assert kinds_by_pair(resumed) == kinds_by_pair(batch)
    assert {g.offers for g in resumed.offer_groups()} == {g.offers for g in batch.offer_groups()}


def test_adding_an_id_twice_is_ignored() -> None:
    finder = DuplicateFinder()
    it = item("a", 60)
    finder.add([it])
    assert finder.add([it]) == [] and len(finder) == 1


@pytest.mark.parametrize("accept", [0.5, 0.99])
def test_accept_threshold_is_honoured(accept: float) -> None:
    finder = DuplicateFinder(DedupeConfig(accept=accept))
    finder.add([item("a", 70), item("b", 70, alter="brightness")])
    assert all(m.score >= accept for m in finder.matches())


def test_finder_runs_on_the_project_vector_index() -> None:
    from modiste.cleaning.hash_index import VectorIndexNeighbours
    from modiste.imaging.hashes import layout_vector
    from modiste.index import create_index

    dim = len(layout_vector(fp(photo(1)).thumb))
    finder = DuplicateFinder(layout_index=VectorIndexNeighbours(create_index("faiss", dim)))
    finder.add([item("a", 51, product="p"), item("b", 52, product="q")])
    finder.add([item("c", 51, product="r", alter="crop")])
    assert kinds_by_pair(finder) == {frozenset(("a", "c")): MatchKind.RELISTED}
