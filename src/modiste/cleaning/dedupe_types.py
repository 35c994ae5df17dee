"""Plain inputs and outputs of duplicate detection, free of any database or model."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from modiste.imaging.hashes import ImageFingerprint


class MatchKind(StrEnum):
    """What a duplicate pair means for the catalog, and so what to do with it."""

    EXACT = "exact"  # same bytes within one product: drop the copy
    NEAR_DUPLICATE = "near_duplicate"  # altered copy within one product: keep the best one
    RELISTED = "relisted"  # same seller, other product id, same photos: do not import twice
    SHARED_PHOTO = "shared_photo"  # one photo on two products whose other photos differ: keep
    SAME_ITEM_OTHER_SELLER = "same_item_other_seller"  # one item, several shops: offer group


@dataclass(frozen=True, slots=True)
class DedupeItem:
    """One product image as duplicate detection sees it.

    Attributes:
        id: unique image id (catalog image id, path...).
        seller: shop that lists the product.
        product_id: the seller's product id; images of one product share it.
        price: the product's price at this seller, carried into offer groups.
        fingerprint: hashes and thumbnail (:func:`modiste.imaging.hashes.fingerprint_file`);
            without one only byte-identical images (same ``content_hash``) are found.
        content_hash: sha256 of the file; defaults to ``fingerprint.sha256``.
        embedding: optional unit-norm CNN embedding, a second candidate source and evidence.
    """

    id: str
    seller: str = "default"
    product_id: str | None = None
    price: float | None = None
    fingerprint: ImageFingerprint | None = None
    content_hash: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False)

    @property
    def sha256(self) -> str | None:
        return self.content_hash or (self.fingerprint.sha256 if self.fingerprint else None)

    @property
    def product_key(self) -> tuple[str, str]:
        """(seller, product id); an image without a product id is its own product."""
        return (self.seller, self.product_id if self.product_id is not None else f"#{self.id}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why two images were judged the same picture (image level, before product context)."""

    score: float
    exact: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A duplicate pair, classified with its product context."""

    a: str
    b: str
    kind: MatchKind
    score: float
    exact: bool
    reasons: tuple[str, ...]

    @property
    def action(self) -> str:
        """What the catalog should do: ``drop``, ``skip_import``, ``keep`` or ``group_offer``."""
        return {
            MatchKind.EXACT: "drop",
            MatchKind.NEAR_DUPLICATE: "drop",
            MatchKind.RELISTED: "skip_import",
            MatchKind.SHARED_PHOTO: "keep",
            MatchKind.SAME_ITEM_OTHER_SELLER: "group_offer",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class Group:
    """Images that are all copies of one picture (connected by matches)."""

    item_ids: tuple[str, ...]
    products: tuple[tuple[str, str], ...]
    kinds: tuple[MatchKind, ...]


@dataclass(frozen=True, slots=True)
class Offer:
    seller: str
    product_id: str
    price: float | None


@dataclass(frozen=True, slots=True)
class OfferGroup:
    """Products that are one item: relistings by one seller and/or offers by several shops."""

    offers: tuple[Offer, ...]
    kinds: tuple[MatchKind, ...]

    @property
    def sellers(self) -> tuple[str, ...]:
        return tuple(sorted({o.seller for o in self.offers}))
