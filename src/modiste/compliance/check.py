"""Check a product's gallery against a channel profile: one verdict per rule, with figures.

The gallery is judged as the channel would receive it: ordered by the profile's regulation (so
"the main image" is the one that would lead), every image measured once, each rule reading the
measurements it needs. A rule that cannot be checked (OCR missing, an unreadable file) says so
in ``skipped`` instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modiste.compliance.measure import ImageFacts, ImageInput, OcrLike, measure_image
from modiste.compliance.profiles import GALLERY_KINDS, ImageRule, Profile
from modiste.domain import Box
from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.taxonomy import UNKNOWN
from modiste.imaging.decode import DEFAULT_MAX_PIXELS


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str
    measured: Any = None
    limit: Any = None
    kind: str = ""  # the rule's kind, for fixers (not in the JSON: the profile has it)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "measured": self.measured,
                "limit": self.limit}  # fmt: skip


@dataclass
class ImageReport:
    image: str
    label: str | None = None
    rank: int | None = None  # place in the channel's gallery; None when left out
    violations: list[Violation] = field(default_factory=list)
    skipped: list[Violation] = field(default_factory=list)  # rules that could not be checked

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image": self.image,
            "violations": [v.to_dict() for v in self.violations],
        }
        out.update(shot=self.label, rank=self.rank)
        if self.skipped:
            out["skipped"] = [{"rule": v.rule, "message": v.message} for v in self.skipped]
        return out


@dataclass
class ProductReport:
    product: str | int  # folder name, or catalog product id
    profile: str
    category: str | None = None
    external_id: str | None = None  # the seller's id, for a catalog product
    violations: list[Violation] = field(default_factory=list)  # about the gallery as a whole
    images: list[ImageReport] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # image keys in the channel's order
    errors: list[tuple[str, str]] = field(default_factory=list)  # (image, why it was skipped)

    @property
    def violation_count(self) -> int:
        return len(self.violations) + sum(len(i.violations) for i in self.images)

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "product": self.product,
            "violations": [v.to_dict() for v in self.violations],
            "images": [i.to_dict() for i in self.images],
        }
        if self.external_id is not None:
            out["external_id"] = self.external_id
        if self.errors:
            out["errors"] = [{"image": k, "error": e} for k, e in self.errors]
        return out


def report_dict(profile: Profile, reports: Iterable[ProductReport]) -> dict[str, Any]:
    """The JSON document ``modiste check --json`` writes and the API returns."""
    return {"profile": profile.name, "products": [r.to_dict() for r in reports]}


def check_gallery(
    profile: Profile,
    images: Sequence[ImageInput | ImageFacts],
    category: str | None = None,
    *,
    product: str | int = "",
    ocr: OcrLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force_ocr: bool = False,
) -> ProductReport:
    """Check one product's photos (in the merchant's order) against ``profile``.

    ``images`` may be measured already (:func:`measure_image`); stored fingerprints and shot
    labels on an :class:`ImageInput` are used as they are. Unreadable images are reported in
    ``errors`` and left out of every rule. ``force_ocr`` reads every photo a text rule covers,
    not only those with marks beside the product (for the benchmark).
    """
    facts = [
        f if isinstance(f, ImageFacts) else measure_image(f, max_pixels=max_pixels) for f in images
    ]
    report = ProductReport(product=product, profile=profile.name, category=category)
    good = []
    for f in facts:
        if f.error is not None:
            report.errors.append((f.key, f.error))
        else:
            good.append(f)
    items = [
        GalleryItem(f.key, f.input.label or UNKNOWN, f.input.confidence, f.input.position)
        for f in good
    ]
    gallery = order_gallery(items, profile.regulation, category)
    ranks = {o.item.key: o.rank for o in gallery.items}
    report.order = gallery.keys
    main_key = gallery.keys[0] if gallery.keys else None
    by_key = {f.key: f for f in good}
    for f in good:
        ir = ImageReport(f.key, f.input.label, ranks.get(f.key))
        for rule in profile.rules:
            if rule.kind in GALLERY_KINDS or rule.kind == "duplicate":
                continue
            if rule.applies(f.input.label, f.key == main_key):
                _check_image(rule, f, ir, ocr, max_pixels, force_ocr)
        report.images.append(ir)
    reports = {r.image: r for r in report.images}
    for rule in profile.rules:
        if rule.kind == "duplicate":
            _check_duplicates(rule, [by_key[k] for k in _by_position(good)], reports, main_key)
        elif rule.kind in GALLERY_KINDS:
            v = _check_gallery_rule(rule, profile, category, gallery, by_key, len(good))
            if v is not None:
                report.violations.append(v)
    if not gallery.items and good:
        report.violations.append(
            Violation("gallery", "no photo is left once the channel's exclusions apply",
                      measured=0, limit=1)
        )  # fmt: skip
    return report


def _by_position(facts: Sequence[ImageFacts]) -> list[str]:
    return [f.key for f in sorted(facts, key=lambda f: f.input.position)]


def _say(rule: ImageRule, default: str) -> str:
    return rule.message or default


def _hex(color: tuple[int, int, int] | Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02X}" for c in color)


def _check_image(
    rule: ImageRule,
    f: ImageFacts,
    ir: ImageReport,
    ocr: OcrLike | None,
    max_pixels: int,
    force_ocr: bool = False,
) -> None:
    p = rule.params
    add = ir.violations.append

    def violation(message: str, measured: Any, limit: Any) -> None:
        add(Violation(rule.id, _say(rule, message), measured, limit, rule.kind))

    px = f.pixels
    if rule.kind == "background" and px is not None:
        color = p["color"]
        share = px.share_near(color, p["tolerance"])
        if share < p["min_share"]:
            want = "a plain background" if color is None else f"a {_hex(color)} background"
            violation(
                f"background is {_hex(px.border_color)}: {share:.0%} of the border is within "
                f"{p['tolerance']} of {'one colour' if color is None else _hex(color)}; "
                f"the channel wants {want}",
                {"color": _hex(px.border_color), "share": round(share, 3)},
                {"color": "plain" if color is None else _hex(color),
                 "tolerance": p["tolerance"], "min_share": p["min_share"]},
            )  # fmt: skip
    elif rule.kind == "fill" and px is not None:
        fill = px.fill
        if fill is None:
            why = (
                "no product stands out from the background"
                if px.plain
                else "the background is not plain and no garment box is known"
            )
            ir.skipped.append(Violation(rule.id, f"fill not measured: {why}", kind=rule.kind))
            return
        lo, hi = p.get("min"), p.get("max")
        limit = {k: p[k] for k in ("min", "max") if k in p}
        if lo is not None and fill < lo:
            violation(f"the product spans {fill:.0%} of the frame; at least {lo:.0%} wanted",
                      round(fill, 3), limit)  # fmt: skip
        elif hi is not None and fill > hi:
            violation(f"the product spans {fill:.0%} of the frame; at most {hi:.0%} wanted",
                      round(fill, 3), limit)  # fmt: skip
    elif rule.kind == "min_size":
        w, h = f.width, f.height
        short = [
            name
            for key, value, name in (
                ("long_side", max(w, h), "on the long side"),
                ("width", w, "wide"),
                ("height", h, "high"),
            )
            if key in p and value < p[key]
        ]
        if short:
            need = ", ".join(
                f"{p[k]} px {n}"
                for k, n in (
                    ("long_side", "on the long side"),
                    ("width", "wide"),
                    ("height", "high"),
                )
                if k in p
            )
            violation(f"{w} x {h} px; the channel wants {need}",
                      {"width": w, "height": h}, dict(p))  # fmt: skip
    elif rule.kind == "aspect":
        ratio = f.width / max(1, f.height)
        want = p["ratio"]
        if abs(ratio / want - 1) > p["tolerance"]:
            violation(
                f"aspect {ratio:.3f} (w/h); the channel wants {want:.3f} "
                f"(within {p['tolerance']:.0%})",
                round(ratio, 4),
                {"ratio": round(want, 4), "tolerance": p["tolerance"]},
            )
    elif rule.kind == "max_bytes":
        if f.file_bytes > p["bytes"]:
            violation(f"{f.file_bytes:,} bytes; at most {p['bytes']:,}", f.file_bytes, p["bytes"])
    elif rule.kind == "format":
        if f.format not in p["allowed"]:
            violation(f"{f.format.upper() or 'unknown'} is not accepted "
                      f"({', '.join(a.upper() for a in p['allowed'])})",
                      f.format, list(p["allowed"]))  # fmt: skip
    elif rule.kind == "text":
        text = f.text(ocr, max_pixels=max_pixels, force=force_ocr)
        if text.unavailable:
            ir.skipped.append(
                Violation(rule.id, f"overlay text not checked: {text.unavailable}", kind=rule.kind)
            )
            return
        if text.chars >= p["min_chars"]:
            words = [t for t in text.lines if t.strip()]
            shown = "; ".join(repr(t) for t in words[:3]) or _where(text.boxes)
            measured = words or [f"about {text.chars} characters: {_where(text.boxes)}"]
            violation(f"overlay text outside the product: {shown}", measured,
                      "no text, logos, badges or watermarks outside the product")  # fmt: skip


def _where(boxes: Sequence[Box]) -> str:
    """Where detected (unread) text lies, in words a person finds it by: "top left", "centre"."""
    names = []
    for b in boxes:
        cx, cy = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2
        row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
        col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
        name = "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"
        if b.width > 0.6:
            name = f"across the {row}" if row != "middle" else "across the middle"
        if name not in names:
            names.append(name)
    n = len(boxes)
    return f"{n} text line{'s' if n != 1 else ''}, " + ", ".join(names[:3])


def _check_duplicates(
    rule: ImageRule,
    facts: Sequence[ImageFacts],
    reports: dict[str, ImageReport],
    main_key: str | None,
) -> None:
    """The later copy of a picture gets the violation; the first one stays."""
    from modiste.cleaning.dedupe import DuplicateFinder
    from modiste.cleaning.dedupe_types import DedupeItem

    finder = DuplicateFinder()
    items = [
        (f, DedupeItem(f.key, fingerprint=f.fingerprint))
        for f in facts
        if rule.applies(f.input.label, f.key == main_key)
    ]
    copies: set[str] = set()
    for j, (fj, dj) in enumerate(items):
        for fi, di in items[:j]:
            if fi.key in copies:
                continue
            ev = finder.verify(dj, di)
            if ev is not None:
                reports[fj.key].violations.append(
                    Violation(rule.id,
                              _say(rule, f"the same picture as {fi.key} (score {ev.score:.2f})"),
                              {"same_as": fi.key, "score": round(ev.score, 3)},
                              "each picture once", rule.kind)
                )  # fmt: skip
                copies.add(fj.key)
                break


def _check_gallery_rule(
    rule: ImageRule,
    profile: Profile,
    category: str | None,
    gallery: Any,
    by_key: dict[str, ImageFacts],
    count: int,
) -> Violation | None:
    p = rule.params
    rules, _ = profile.regulation.rules_for(category)
    labels = [o.item.label for o in gallery.items]
    if rule.kind == "required_shot":
        wanted = p.get("shots") or [[c] for c in rules.required]
        missing = [alt for alt in wanted if not set(alt) & set(labels)]
        if missing:
            need = "; ".join(" or ".join(alt) for alt in missing)
            return Violation(rule.id, _say(rule, f"missing a photo: {need}"),
                             sorted(set(labels)), [list(a) for a in wanted], rule.kind)  # fmt: skip
    elif rule.kind == "main_shot":
        main = labels[0] if labels else None
        if main not in p["allowed"]:
            key = gallery.items[0].item.key if gallery.items else None
            return Violation(
                rule.id,
                _say(rule, f"the first photo ({key}) is {main or 'missing'}; the channel wants "
                           f"{' / '.join(p['allowed'])} first"),
                main, list(p["allowed"]), rule.kind,
            )  # fmt: skip
    elif rule.kind == "max_images":
        limit = p.get("max") or rules.max_images
        kept = count - sum(1 for e in gallery.excluded if "excluded by" in e.reason)
        if limit is not None and kept > limit:
            return Violation(rule.id,
                             _say(rule, f"{kept} photos; the channel takes {limit}, "
                                        f"{kept - limit} would be left out"),
                             kept, limit, rule.kind)  # fmt: skip
    return None
