"""Duplicates in the catalog: fingerprint stored images, group them, act on the groups.

The engine (:mod:`modiste.cleaning.dedupe`) works on plain items; this module feeds it the
catalog and writes back what it decides:

- an exact or near copy inside one product is hidden from the gallery and the index;
- a product a seller listed twice (``relisted``) keeps its row but is flagged and kept out of
  search, so shoppers don't see it twice;
- a photo shared by two different products is recorded, and nothing is hidden;
- the same item sold by several shops becomes an offer group with each shop's price.

Groups a person confirmed or split in review are kept as they are; open ones are recomputed.
Fingerprints and verified pairs are stored, so a new image costs one decode and a check
against the stored ones; the pairs of older images are read back, not verified again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.schema import (
    DuplicateGroup,
    DuplicateMember,
    FingerprintRow,
    ImageMatchRow,
    ImageRow,
    ProductRow,
)
from modiste.cleaning.dedupe import DedupeConfig, DedupeItem, DuplicateFinder
from modiste.cleaning.dedupe_types import Evidence, MatchKind
from modiste.errors import ModisteError
from modiste.imaging.hashes import THUMB, ImageFingerprint, fingerprint_file

log = logging.getLogger(__name__)
# policy_reason prefixes written here, so a rerun can undo what it no longer finds
DUPLICATE_PREFIX = "duplicate of image "
RELISTED_PREFIX = "relisted: same item as product "


def to_row(image_id: int, fp: ImageFingerprint) -> FingerprintRow:
    return FingerprintRow(
        image_id=image_id,
        sha256=fp.sha256,
        phash=f"{fp.phash:016x}",
        dhash=f"{fp.dhash:016x}",
        aspect=float(fp.aspect),
        thumb=np.ascontiguousarray(fp.thumb, dtype=np.uint8).tobytes(),
        compared=False,
    )


def from_row(row: FingerprintRow) -> ImageFingerprint:
    thumb = np.frombuffer(row.thumb, dtype=np.uint8).reshape(THUMB, THUMB, 3)
    return ImageFingerprint(row.sha256, int(row.phash, 16), int(row.dhash, 16), row.aspect, thumb)


def fingerprint_images(
    session: Session, store: object, image_ids: Sequence[int], max_pixels: int
) -> dict[int, str | None]:
    """Compute and store fingerprints; returns image id → error (None when done)."""
    out: dict[int, str | None] = {}
    for row in session.scalars(select(ImageRow).where(ImageRow.id.in_(list(image_ids)))):
        if row.status != "stored" or not row.content_hash:
            out[row.id] = "image not stored"
            continue
        try:
            data = store.get(row.content_hash)  # type: ignore[attr-defined]
            fp = fingerprint_file(data, max_pixels=max_pixels)
        except ModisteError as e:
            out[row.id] = str(e)
            continue
        session.merge(to_row(row.id, fp))  # compared=False: its pairs are found again
        out[row.id] = None
    return out


def forget_matches(session: Session) -> None:
    """Drop every stored pair, so the next regroup verifies all images again (new thresholds)."""
    session.execute(delete(ImageMatchRow))
    session.execute(update(FingerprintRow).values(compared=False))


def _evidence(row: ImageMatchRow) -> Evidence:
    reasons = tuple(r for r in row.reasons.split("\n") if r)
    return Evidence(score=row.score, exact=row.exact, reasons=reasons)


@dataclass
class DedupeReport:
    images: int = 0
    compared: int = 0  # images verified this time (new or changed); the rest were read back
    groups: dict[str, int] = field(default_factory=dict)
    hidden_copies: int = 0
    relisted_products: int = 0
    offer_groups: list[dict[str, object]] = field(default_factory=list)


def _member_key(members: list[DuplicateMember]) -> frozenset[tuple[str, int | None]]:
    return frozenset(
        ("p", m.product_id) if m.image_id is None else ("i", m.image_id) for m in members
    )


def _colour(product: ProductRow) -> str | None:
    """The product's colour from its feed attributes (``color`` or ``colour``), if any."""
    attrs = product.attributes or {}
    value = attrs.get("color") or attrs.get("colour")
    return str(value).strip().lower() or None if value else None


def _finder(
    session: Session, images: dict[int, ImageRow], config: DedupeConfig | None
) -> tuple[DuplicateFinder, int]:
    """A finder over every fingerprinted image; returns it and how many images it verified.

    Pairs among images checked before are read back from ``image_matches``; only new (or
    re-fingerprinted) images are verified against the rest, and their pairs are stored.
    """
    rows = {r.image_id: r for r in session.scalars(select(FingerprintRow))}
    compared: list[DedupeItem] = []
    new: list[DedupeItem] = []
    for image_id in sorted(images):
        img = images[image_id]
        item = DedupeItem(
            id=str(image_id),
            seller=img.product.seller.name,
            product_id=str(img.product_id),
            price=img.product.price,
            fingerprint=from_row(rows[image_id]),
        )
        (compared if rows[image_id].compared else new).append(item)
    if new:  # a re-fingerprinted image's old pairs go; it is verified again below
        stale = [int(item.id) for item in new]
        for chunk in (stale[i : i + 500] for i in range(0, len(stale), 500)):
            session.execute(
                delete(ImageMatchRow).where(
                    or_(ImageMatchRow.image_a.in_(chunk), ImageMatchRow.image_b.in_(chunk))
                )
            )
    finder = DuplicateFinder(config)
    finder.restore(
        compared,
        (
            (str(m.image_a), str(m.image_b), _evidence(m))
            for m in session.scalars(select(ImageMatchRow))
        ),
    )
    finder.add(new)
    fresh = {item.id for item in new}
    for id_a, id_b, ev in finder.evidence():
        if id_a in fresh or id_b in fresh:
            lo, hi = sorted((int(id_a), int(id_b)))
            row = ImageMatchRow(image_a=lo, image_b=hi, score=ev.score, exact=ev.exact)
            row.reasons = "\n".join(ev.reasons)
            session.add(row)
    for item in new:
        rows[int(item.id)].compared = True
    return finder, len(new)


def rebuild_groups(session: Session, config: DedupeConfig | None = None) -> DedupeReport:
    """Recompute open duplicate/offer groups and the catalog flags that follow from them."""
    images = {
        img.id: img
        for img in session.scalars(
            select(ImageRow)
            .join(FingerprintRow, FingerprintRow.image_id == ImageRow.id)
            .options(selectinload(ImageRow.product).selectinload(ProductRow.seller))
        )
    }
    finder, verified = _finder(session, images, config)
    report = DedupeReport(images=len(images), compared=verified)

    kept = session.scalars(
        select(DuplicateGroup)
        .where(DuplicateGroup.status != "open")
        .options(selectinload(DuplicateGroup.members))
    ).all()
    decided = {_member_key(g.members): g.status for g in kept}
    session.execute(delete(DuplicateGroup).where(DuplicateGroup.status == "open"))

    # Undo flags from the previous run; they are re-applied below if still true.
    for img in images.values():
        reason = img.policy_reason or ""
        if reason.startswith((DUPLICATE_PREFIX, RELISTED_PREFIX)):
            img.in_gallery = True if reason.startswith(DUPLICATE_PREFIX) else img.in_gallery
            img.in_search, img.policy_reason = True, None

    def add_group(kind: str, members: list[DuplicateMember]) -> None:
        key = _member_key(members)
        if decided.get(key) == "split":
            return  # a person said these are not duplicates
        if key in decided:
            return  # confirmed: kept as it was
        session.add(DuplicateGroup(kind=kind, status="open", members=members))
        report.groups[kind] = report.groups.get(kind, 0) + 1

    split_pairs = {k for k, status in decided.items() if status == "split"}
    image_level = (MatchKind.EXACT, MatchKind.NEAR_DUPLICATE, MatchKind.SHARED_PHOTO)
    for group in finder.groups():
        kinds = set(group.kinds)
        kind = next((k for k in image_level if k in kinds), None)
        if kind is None:
            continue  # copies across products of one item: the offer group below covers them
        members = [
            DuplicateMember(
                image_id=int(i),
                product_id=images[int(i)].product_id,
                reason=", ".join(sorted(kinds)),
            )
            for i in group.item_ids
        ]
        add_group({"near_duplicate": "near", "shared_photo": "shared"}.get(kind, kind), members)

    for match in finder.matches():
        a, b = images[int(match.a)], images[int(match.b)]
        if match.action == "drop":
            keep, drop = sorted((a, b), key=lambda i: (i.position, i.id))
            if (
                _member_key([DuplicateMember(image_id=keep.id), DuplicateMember(image_id=drop.id)])
                in split_pairs
            ):
                continue
            drop.in_gallery, drop.in_search = False, False
            drop.policy_reason = f"{DUPLICATE_PREFIX}{keep.id}"
            report.hidden_copies += 1

    products = {img.product_id: img.product for img in images.values()}
    for offer in finder.offer_groups():
        product_ids = [int(o.product_id) for o in offer.offers]
        members = [
            DuplicateMember(
                product_id=pid, reason=f"{o.seller}: {o.price if o.price is not None else '?'}"
            )
            for pid, o in zip(product_ids, offer.offers, strict=True)
        ]
        group_kind = "offer" if MatchKind.SAME_ITEM_OTHER_SELLER in offer.kinds else "relisted"
        colours = [_colour(products[pid]) for pid in product_ids]
        if group_kind == "relisted" and None not in colours and len(set(colours)) == len(colours):
            # Colour variants of one style often share (recoloured or even identical) photos;
            # they are different products, so nothing is hidden: the group is for review only.
            group_kind = "variants"
        add_group(group_kind, members)
        report.offer_groups.append(
            {
                "kind": group_kind,
                "offers": [
                    {"seller": o.seller, "product_id": int(o.product_id), "price": o.price}
                    for o in offer.offers
                ],
            }
        )
        if group_kind != "variants" and MatchKind.RELISTED in offer.kinds:
            by_seller: dict[str, list[int]] = {}
            for pid, o in zip(product_ids, offer.offers, strict=True):
                by_seller.setdefault(o.seller, []).append(pid)
            for pids in by_seller.values():
                first, *later = sorted(pids)
                for pid in later:
                    if _colour(products[pid]) not in (None, _colour(products[first])):
                        continue  # another colour of the same item: a variant, not a relisting
                    report.relisted_products += 1
                    for img in images.values():
                        if img.product_id == pid:
                            img.in_search = False
                            img.policy_reason = f"{RELISTED_PREFIX}{first}"
                    product = products[pid]
                    product.attributes = {**(product.attributes or {}), "relisted_of": first}
    return report
