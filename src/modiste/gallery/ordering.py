"""Order a product's gallery by a regulation, explaining where each image goes and why.

Each image gets one precomputed sort key (bucket, slot in the class order, tie-breaks, original
position, key), so ordering is a single stable sort: deterministic, the same for any input
order of the items, and cheap for any number of images.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modiste.gallery.regulation import Regulation, Rules
from modiste.gallery.taxonomy import UNKNOWN

# Buckets, in gallery order.
_PIN_FIRST, _PROMOTED, _LISTED, _UNLISTED, _PIN_LAST = range(5)


@dataclass(frozen=True, slots=True)
class GalleryItem:
    """One image to place: ``position`` is its place in the merchant's original gallery."""

    key: str
    label: str
    confidence: float
    position: int


@dataclass(frozen=True, slots=True)
class OrderedItem:
    item: GalleryItem
    rank: int  # 1-based place in the ordered gallery
    reason: str


@dataclass(frozen=True, slots=True)
class ExcludedItem:
    item: GalleryItem
    reason: str


@dataclass(frozen=True)
class OrderedGallery:
    items: list[OrderedItem]
    excluded: list[ExcludedItem]
    missing: list[str]  # required classes with no image in the kept gallery
    regulation: str
    category: str | None = None
    override: str | None = None  # the category pattern whose rules applied
    missing_reasons: list[str] = field(default_factory=list)  # "no wash_tag photo (required ...)"

    @property
    def keys(self) -> list[str]:
        return [o.item.key for o in self.items]

    @property
    def positions(self) -> list[int]:
        return [o.item.position for o in self.items]

    def to_dict(self) -> dict[str, Any]:
        def item(i: GalleryItem) -> dict[str, Any]:
            return {
                "key": i.key,
                "label": i.label,
                "confidence": i.confidence,
                "position": i.position,
            }

        return {
            "regulation": self.regulation,
            "category": self.category,
            "override": self.override,
            "items": [{"rank": o.rank, **item(o.item), "reason": o.reason} for o in self.items],
            "excluded": [{**item(e.item), "reason": e.reason} for e in self.excluded],
            "missing": list(self.missing),
            "missing_reasons": list(self.missing_reasons),
        }


SortKey = tuple[Any, ...]


def order_gallery(
    items: Sequence[GalleryItem],
    regulation: Regulation,
    category: str | None = None,
    *,
    apply_limits: bool = True,
) -> OrderedGallery:
    """Order ``items`` by ``regulation`` (with the override for ``category``, if one matches).

    Args:
        items: the product's images with their shot labels.
        regulation: the rules; the first category override matching ``category`` replaces them.
        category: a category path such as ``"Women/Tops/Jackets"``.
        apply_limits: when False, exclusions and ``max_images`` are ignored and every image is
            ranked (excluded classes are then treated as unlisted). Evaluation uses this to
            compare orders over the same images.
    """
    rules, pattern = regulation.rules_for(category)
    tag = regulation.name + (f" [{pattern}]" if pattern else "")
    present = {it.label for it in items}
    promoted: tuple[str, ...] = ()
    if rules.promote and not present & set(rules.promote.unless_any):
        promoted = rules.promote.labels
    excluded_labels = set(rules.exclude) if apply_limits else set()

    excluded: list[ExcludedItem] = []
    keyed: list[tuple[SortKey, GalleryItem]] = []
    for it in items:
        if it.label in excluded_labels:
            excluded.append(ExcludedItem(it, f"{it.label} is excluded by {tag}"))
        else:
            keyed.append((_sort_key(it, rules, promoted, excluded=set(rules.exclude)), it))
    keyed.sort(key=lambda pair: pair[0])

    notes: dict[str, str] = {}
    if apply_limits and rules.max_images is not None and len(keyed) > rules.max_images:
        keyed, dropped, notes = _limit(keyed, rules, tag)
        excluded.extend(dropped)

    reasons = _reasons(keyed, rules, tag)
    ordered = [
        OrderedItem(it, rank, reason + notes.get(it.key, ""))
        for rank, ((_, it), reason) in enumerate(zip(keyed, reasons, strict=True), start=1)
    ]
    kept = {it.label for _, it in keyed}
    missing = [label for label in rules.required if label not in kept]
    return OrderedGallery(
        items=ordered,
        excluded=excluded,
        missing=missing,
        regulation=regulation.name,
        category=category,
        override=pattern,
        missing_reasons=[f"no {label} photo (required by {tag})" for label in missing],
    )


def _sort_key(
    it: GalleryItem, rules: Rules, promoted: tuple[str, ...], *, excluded: set[str]
) -> SortKey:
    label = it.label
    if label in excluded or not (
        label in rules.pin_first
        or label in promoted
        or label in rules.pin_last
        or label in rules.order
    ):  # unlisted (or excluded, when limits are off): original order, confidence ignored
        return (_UNLISTED, 0, it.position, it.key)
    if label in rules.pin_first:
        bucket, slot = _PIN_FIRST, rules.pin_first.index(label)
    elif label in promoted:
        bucket, slot = _PROMOTED, promoted.index(label)
    elif label in rules.pin_last:
        bucket, slot = _PIN_LAST, rules.pin_last.index(label)
    else:
        bucket, slot = _LISTED, rules.order.index(label)
    conf = it.confidence if math.isfinite(it.confidence) else 0.0
    ties = tuple(-conf if t == "confidence" else it.position for t in rules.tie_break)
    return (bucket, slot, *ties, it.position, it.key)


def _limit(
    keyed: list[tuple[SortKey, GalleryItem]], rules: Rules, tag: str
) -> tuple[list[tuple[SortKey, GalleryItem]], list[ExcludedItem], dict[str, str]]:
    """Keep ``max_images``, but let each required class keep its best image.

    Without this, a required shot ranked ninth under ``max_images: 8`` would be dropped and then
    reported missing although the merchant supplied it.
    """
    n = rules.max_images or len(keyed)
    keep, drop = keyed[:n], keyed[n:]
    made_room: dict[str, str] = {}  # dropped key → the required class it made room for
    notes: dict[str, str] = {}
    for label in rules.required:
        if any(it.label == label for _, it in keep):
            continue
        candidate = next((p for p in drop if p[1].label == label), None)
        if candidate is None:
            continue
        counts = Counter(it.label for _, it in keep)
        victim = next(
            p
            for p in reversed(keep)
            if not (p[1].label in rules.required and counts[p[1].label] == 1)
        )
        keep.remove(victim)
        drop.remove(candidate)
        keep.append(candidate)
        drop.append(victim)
        made_room[victim[1].key] = label
        notes[candidate[1].key] = f"; kept within max_images={n} because {label} is required"
    keep.sort(key=lambda p: p[0])
    drop.sort(key=lambda p: p[0])
    dropped = []
    for _, it in drop:
        why = f" to make room for required {made_room[it.key]}" if it.key in made_room else ""
        dropped.append(ExcludedItem(it, f"beyond max_images={n} of {tag}{why}"))
    return keep, dropped, notes


def _reasons(keyed: list[tuple[SortKey, GalleryItem]], rules: Rules, tag: str) -> list[str]:
    sizes = Counter(k[:2] for k, _ in keyed)
    seen: Counter[tuple[Any, ...]] = Counter()
    out = []
    for key, it in keyed:
        bucket, slot = key[0], key[1]
        label = it.label
        if bucket == _PIN_FIRST:
            text = f"{label} is pinned first by {tag}"
        elif bucket == _PROMOTED:
            cond = rules.promote.describe_condition() if rules.promote else ""
            text = f"{label} leads because the gallery has {cond} ({tag})"
        elif bucket == _PIN_LAST:
            text = f"{label} is pinned last by {tag}"
        elif bucket == _LISTED:
            text = f"{label} is class {slot + 1} of {len(rules.order)} in the order of {tag}"
        else:
            what = "unknown (the classifier was unsure)" if label == UNKNOWN else label
            out.append(
                f"{what} is not in the order of {tag}: placed after the listed shots, "
                f"by original position ({it.position})"
            )
            continue
        seen[key[:2]] += 1
        n = sizes[key[:2]]
        if n > 1:
            how = (
                " then ".join(
                    f"confidence ({it.confidence:.2f})"
                    if t == "confidence"
                    else "original position"
                    for t in rules.tie_break
                )
                or "original position"
            )
            text += f"; {seen[key[:2]]} of {n} {label} images by {how}"
        out.append(text)
    return out
