"""Duplicate detection: exact, near-duplicate, relisted, shared photo and cross-seller offers.

Pipeline per new image, without touching what is stored (incremental by construction):

1. candidates: same sha256 (dict), pHash within a small radius (multi-index hash), and cosine
   kNN over the layout vector (and over a CNN embedding when items carry one);
2. verification: the two thumbnails are aligned (zoom search for crops, correlation blind to
   brightness, chroma compared at the aligned spot so recolours fail), giving one score;
3. the pair is an *image* match when the score passes ``accept``; what it *means* is decided
   later, from the products' other images (see :meth:`DuplicateFinder.classify`), so adding a
   product's second image can turn a "relisted" verdict into "shared_photo" without re-hashing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from modiste.cleaning.dedupe_types import (
    DedupeItem,
    Evidence,
    Group,
    Match,
    MatchKind,
    Offer,
    OfferGroup,
)
from modiste.cleaning.hash_index import FlatCosineIndex, MultiIndexHash, NeighbourIndex
from modiste.cleaning.similarity import align
from modiste.imaging.hashes import hamming

log = logging.getLogger(__name__)
K = TypeVar("K", int, str, tuple[str, str])

__all__ = [
    "DedupeConfig",
    "DedupeItem",
    "DuplicateFinder",
    "Group",
    "Match",
    "MatchKind",
    "Offer",
    "OfferGroup",
    "UnionFind",
]


@dataclass(frozen=True, slots=True)
class DedupeConfig:
    """Thresholds; ``accept`` was tuned on a separate set (see benchmarks/README.md).

    Attributes:
        accept: minimum alignment score (correlation minus ``chroma_weight`` x chroma gap).
        chroma_weight: how much a colour difference costs (recolour vs brightness change).
        knn: neighbours fetched per image from each vector index.
        min_cosine: layout-vector similarity below which a kNN neighbour is not verified.
        phash_radius: pHash distance searched in the band index (exact up to 3).
        embedding_min_cosine: CNN cosine that counts as a match on its own (None: evidence only
            when alignment also agrees).
        same_item_fraction: share of the smaller product's images that must match the other
            product for the two to be one item; below it the matched photo is "shared".
    """

    accept: float = 0.915
    chroma_weight: float = 0.01
    knn: int = 5
    min_cosine: float = 0.7
    phash_radius: int = 3
    embedding_min_cosine: float | None = None
    same_item_fraction: float = 0.5


class UnionFind(Generic[K]):
    """Disjoint sets over hashable keys, with path halving and union by size."""

    def __init__(self) -> None:
        self._parent: dict[K, K] = {}
        self._size: dict[K, int] = {}

    def find(self, x: K) -> K:
        parent = self._parent.setdefault(x, x)
        self._size.setdefault(x, 1)
        while parent != x:
            grand = self._parent[parent]
            self._parent[x] = grand
            x, parent = parent, self._parent[grand]
        return x

    def union(self, a: K, b: K) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]

    def sets(self) -> list[list[K]]:
        out: dict[K, list[K]] = defaultdict(list)
        for x in self._parent:
            out[self.find(x)].append(x)
        return list(out.values())


class DuplicateFinder:
    """Incremental duplicate index over :class:`DedupeItem` images.

    ``add`` checks each new image against what is stored (and earlier images of the same
    batch) and keeps the image-level matches; ``find_duplicates``, ``matches``, ``groups`` and
    ``offer_groups`` classify them with the product context known at call time.
    """

    def __init__(
        self,
        config: DedupeConfig | None = None,
        *,
        layout_index: NeighbourIndex | None = None,
        embedding_index: NeighbourIndex | None = None,
    ) -> None:
        self.config = config or DedupeConfig()
        self._items: list[DedupeItem] = []
        self._pos: dict[str, int] = {}
        self._by_sha: dict[str, list[int]] = defaultdict(list)
        self._bands = MultiIndexHash()
        self._band_pos: list[int] = []  # band-index position -> item position
        self._layout = layout_index if layout_index is not None else FlatCosineIndex()
        self._layout_pos: list[int] = []
        self._emb = embedding_index if embedding_index is not None else FlatCosineIndex()
        self._emb_pos: list[int] = []
        self._edges: dict[int, dict[int, Evidence]] = defaultdict(dict)
        self._products: dict[tuple[str, str], list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._pos

    # -- indexing -------------------------------------------------------------------------
    def add(self, items: Iterable[DedupeItem]) -> list[Match]:
        """Index new images; returns the matches they made, classified as of now."""
        new: list[int] = []
        for item in items:
            if item.id in self._pos:
                log.debug("dedupe: %s already indexed, skipped", item.id)
                continue
            evidence = self._compare(item)
            pos = self._append(item)
            for other, ev in evidence.items():
                self._edges[pos][other] = ev
                self._edges[other][pos] = ev
            new.append(pos)
        return [m for p in new for m in self._classified(p)]

    def restore(
        self, items: Iterable[DedupeItem], evidence: Iterable[tuple[str, str, Evidence]]
    ) -> None:
        """Load images compared earlier, with the pairs found then, without comparing again.

        ``evidence`` holds ``(id_a, id_b, Evidence)`` for pairs among ``items``; pairs naming an
        unknown image are ignored (it was deleted since). Images added later are still checked
        against these, so a stored catalog costs no re-verification.
        """
        for item in items:
            if item.id not in self._pos:
                self._append(item)
        for a, b, ev in evidence:
            pa, pb = self._pos.get(a), self._pos.get(b)
            if pa is not None and pb is not None and pa != pb:
                self._edges[pa][pb] = ev
                self._edges[pb][pa] = ev

    def evidence(self) -> list[tuple[str, str, Evidence]]:
        """Every stored image-level pair once, unclassified: what :meth:`restore` takes back."""
        return [
            (self._items[p].id, self._items[o].id, ev)
            for p, others in self._edges.items()
            for o, ev in others.items()
            if p < o
        ]

    def _append(self, item: DedupeItem) -> int:
        """Keep ``item`` and put it in the candidate indexes; returns its position."""
        pos = len(self._items)
        self._items.append(item)
        self._pos[item.id] = pos
        self._products[item.product_key].append(pos)
        self._store(pos, item)
        return pos

    def _store(self, pos: int, item: DedupeItem) -> None:
        if item.sha256:
            self._by_sha[item.sha256].append(pos)
        fp = item.fingerprint
        if fp is not None:
            self._bands.add(fp.phash)
            self._band_pos.append(pos)
            self._layout.add(fp.vector()[None, :])
            self._layout_pos.append(pos)
        if item.embedding is not None:
            self._emb.add(np.asarray(item.embedding, dtype=np.float32)[None, :])
            self._emb_pos.append(pos)

    def _candidates(self, item: DedupeItem) -> dict[int, list[str]]:
        """Stored positions worth verifying, with what nominated them."""
        cfg = self.config
        found: dict[int, list[str]] = defaultdict(list)
        fp = item.fingerprint
        if fp is not None:
            for bpos, dist in self._bands.search(fp.phash, cfg.phash_radius):
                found[self._band_pos[bpos]].append(f"phash distance {dist}")
            if self._layout_pos:
                scores, pos = self._layout.search(fp.vector()[None, :], cfg.knn)
                for s, p in zip(scores[0], pos[0], strict=True):
                    if p >= 0 and s >= cfg.min_cosine:
                        found[self._layout_pos[p]].append(f"layout cosine {s:.3f}")
        if item.embedding is not None and self._emb_pos:
            q = np.asarray(item.embedding, dtype=np.float32)[None, :]
            scores, pos = self._emb.search(q, cfg.knn)
            for s, p in zip(scores[0], pos[0], strict=True):
                if p >= 0 and s >= cfg.min_cosine:
                    found[self._emb_pos[p]].append(f"embedding cosine {s:.3f}")
        return found

    def _compare(self, item: DedupeItem) -> dict[int, Evidence]:
        """Image-level matches of ``item`` against everything stored."""
        out: dict[int, Evidence] = {}
        if item.sha256:
            for p in self._by_sha.get(item.sha256, ()):
                out[p] = Evidence(score=1.0, exact=True, reasons=("identical bytes (sha256)",))
        for p, why in self._candidates(item).items():
            if p in out:
                continue
            ev = self.verify(item, self._items[p], why)
            if ev is not None:
                out[p] = ev
        return out

    def verify(
        self, a: DedupeItem, b: DedupeItem, nominated: Iterable[str] = ()
    ) -> Evidence | None:
        """Image-level decision for one pair: evidence if they are the same picture, else None."""
        cfg = self.config
        if a.sha256 and a.sha256 == b.sha256:
            return Evidence(score=1.0, exact=True, reasons=("identical bytes (sha256)",))
        reasons = list(nominated)
        if a.fingerprint is not None and b.fingerprint is not None:
            al = align(a.fingerprint, b.fingerprint)
            score = al.score(cfg.chroma_weight)
            if score >= cfg.accept:
                reasons.append(
                    f"aligned thumbnails: correlation {al.ncc:.3f}, chroma gap {al.chroma:.1f}, "
                    f"zoom {al.scale:.2f}; pHash distance "
                    f"{hamming(a.fingerprint.phash, b.fingerprint.phash)}"
                )
                return Evidence(score=score, reasons=tuple(reasons))
        if (
            cfg.embedding_min_cosine is not None
            and a.embedding is not None
            and b.embedding is not None
        ):
            cos = float(np.dot(a.embedding, b.embedding))
            if cos >= cfg.embedding_min_cosine:
                reasons.append(f"embedding cosine {cos:.3f}")
                return Evidence(score=cos, reasons=tuple(reasons))
        return None

    # -- querying -------------------------------------------------------------------------
    def find_duplicates(self, item: DedupeItem) -> list[Match]:
        """Matches of ``item`` (stored or not) with stored images; nothing is indexed."""
        if item.id in self._pos:
            return self._classified(self._pos[item.id])
        evidence = self._compare(item)
        return sorted(
            (self.classify(item, self._items[p], ev) for p, ev in evidence.items()),
            key=lambda m: -m.score,
        )

    def _classified(self, pos: int) -> list[Match]:
        item = self._items[pos]
        edges = self._edges.get(pos, {})
        matches = [self.classify(item, self._items[o], ev) for o, ev in edges.items()]
        return sorted(matches, key=lambda m: -m.score)

    def classify(self, a: DedupeItem, b: DedupeItem, ev: Evidence) -> Match:
        """Give an image-level match its catalog meaning from the two products' other images."""
        reasons = list(ev.reasons)
        if a.product_key == b.product_key:
            kind = MatchKind.EXACT if ev.exact else MatchKind.NEAR_DUPLICATE
            reasons.append("same product")
        else:
            share = self._product_overlap(a, b)
            if share <= self.config.same_item_fraction:
                kind = MatchKind.SHARED_PHOTO
                reasons.append(f"only {share:.0%} of the smaller product's images match")
            elif a.seller == b.seller:
                kind = MatchKind.RELISTED
                reasons.append(f"same seller, {share:.0%} of the images match")
            else:
                kind = MatchKind.SAME_ITEM_OTHER_SELLER
                reasons.append(f"other seller, {share:.0%} of the images match")
        return Match(a.id, b.id, kind, ev.score, ev.exact, tuple(reasons))

    def _product_overlap(self, a: DedupeItem, b: DedupeItem) -> float:
        """Share of the smaller product's images that match some image of the other product.

        ``a`` may be a probe that is not stored; it then counts as one of its product's images.
        """
        pa = [p for p in self._products.get(a.product_key, []) if self._items[p].id != a.id]
        pb = [p for p in self._products.get(b.product_key, []) if self._items[p].id != b.id]
        set_b = set(pb) | {self._pos[b.id]} if b.id in self._pos else set(pb)
        set_a = set(pa) | {self._pos[a.id]} if a.id in self._pos else set(pa)
        # .get, not []: reading must not grow the defaultdict that matches() iterates
        matched_a = 1 + sum(1 for p in pa if set_b & self._edges.get(p, {}).keys())
        matched_b = 1 + sum(1 for p in pb if set_a & self._edges.get(p, {}).keys())
        # the pair itself counts once on each side (a probe has no stored edges yet)
        na, nb = len(pa) + 1, len(pb) + 1
        return matched_a / na if na <= nb else matched_b / nb

    def matches(self) -> list[Match]:
        """Every stored pair once, classified."""
        out = []
        for p, others in self._edges.items():
            for o, ev in others.items():
                if p < o:
                    out.append(self.classify(self._items[p], self._items[o], ev))
        return out

    def groups(self) -> list[Group]:
        """Connected sets of images that are copies of one picture (size 2 or more)."""
        uf: UnionFind[int] = UnionFind()
        for p, others in self._edges.items():
            for o in others:
                uf.union(p, o)
        kinds: dict[int, set[MatchKind]] = defaultdict(set)
        for m in self.matches():
            kinds[uf.find(self._pos[m.a])].add(m.kind)
        out = []
        for members in uf.sets():
            if len(members) < 2:
                continue
            items = [self._items[p] for p in sorted(members)]
            out.append(
                Group(
                    item_ids=tuple(i.id for i in items),
                    products=tuple(sorted({i.product_key for i in items})),
                    kinds=tuple(sorted(kinds[uf.find(members[0])])),
                )
            )
        return out

    def offer_groups(self) -> list[OfferGroup]:
        """Products that are one item (relisted by a seller, or sold by several shops)."""
        uf: UnionFind[tuple[str, str]] = UnionFind()
        kinds: dict[tuple[str, str], set[MatchKind]] = defaultdict(set)
        pairs = []
        for m in self.matches():
            if m.kind in (MatchKind.RELISTED, MatchKind.SAME_ITEM_OTHER_SELLER):
                ka = self._items[self._pos[m.a]].product_key
                kb = self._items[self._pos[m.b]].product_key
                uf.union(ka, kb)
                pairs.append((ka, m.kind))
        for key, kind in pairs:
            kinds[uf.find(key)].add(kind)
        out = []
        for members in uf.sets():
            offers = []
            for key in sorted(members):
                first = self._items[self._products[key][0]]
                offers.append(Offer(first.seller, first.product_id or first.id, first.price))
            out.append(OfferGroup(tuple(offers), tuple(sorted(kinds[uf.find(members[0])]))))
        return out
