"""Words for shoppers: shot types and prices as people read them (issue #14 item 13).

The catalog keeps its internal names (``near_front``, ``whole_image``, ``79.0``); the shopper's
pages show these instead. Admin pages (editor, gallery review) keep the internal ids as values,
which is what the API and the regulations use; gallery review shows words beside them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SHOT_NAMES = {
    "near_front": "Front",
    "far_front": "Front, full length",
    "near_back": "Back",
    "far_back": "Back, full length",
    "near_side": "Side",
    "far_side": "Side, full length",
    "near_zoom": "Detail",
    "flat_front": "Front",
    "back": "Back",
    "packshot": "Product",
    "feature": "Detail",
    "material": "Fabric",
    "print": "Print",
    "collar": "Collar",
    "sleeve": "Sleeve",
    "sleeve_hem": "Cuff",
    "hem": "Hem",
    "brand_tag": "Label",
    "wash_tag": "Care label",
    "size_chart": "Size chart",
}
# symbol before the amount, and decimals, as browsers' Intl.NumberFormat("en") writes them
_CURRENCIES = {
    "USD": ("$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "CNY": ("CN¥", 2),
    "KRW": ("₩", 0),
    "INR": ("₹", 2),
    "CAD": ("CA$", 2),
    "AUD": ("A$", 2),
    "NZD": ("NZ$", 2),
    "HKD": ("HK$", 2),
    "BRL": ("R$", 2),
    "MXN": ("MX$", 2),
}


def shot_name(label: str | None) -> str:
    """A shot type as a shopper reads it; "" for none or ``unknown`` (nothing worth a tag)."""
    if not label or label == "unknown":
        return ""
    return SHOT_NAMES.get(label) or label.replace("_", " ").capitalize()


# Gallery review (staff): each shot type in words that tell the near ones apart, in the order a
# person scans them (front before back before side); the value stays the taxonomy's id.
REVIEW_NAMES = {
    "near_front": "Front, waist up", "near_back": "Back, waist up", "near_side": "Side, waist up",
    "far_front": "Front, full body", "far_back": "Back, full body", "far_side": "Side, full body",
    "near_zoom": "Close-up as worn",
    "flat_front": "Front, garment alone", "back": "Back, garment alone",
    "packshot": "Product alone",
    "feature": "Detail close-up", "material": "Fabric close-up", "print": "Print close-up",
    "collar": "Collar close-up", "sleeve": "Sleeve", "sleeve_hem": "Cuff close-up",
    "hem": "Hem close-up",
    "brand_tag": "Brand label", "wash_tag": "Care label", "size_chart": "Size chart",
    "unknown": "Not sure (unknown)",
}  # fmt: skip


def review_choices(
    groups: dict[str, list[str]], titles: dict[str, str], labels: list[str]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(label, words)]) for the review page's list: taxonomy groups in their
    order, known labels in :data:`REVIEW_NAMES` order first, labels in no group last."""
    order = list(REVIEW_NAMES)

    def words(label: str) -> str:
        return REVIEW_NAMES.get(label) or label.replace("_", " ").capitalize()

    def ranked(names: list[str]) -> list[tuple[str, str]]:
        names = sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))
        return [(n, words(n)) for n in names]

    grouped = {n for names in groups.values() for n in names}
    out = [
        (titles.get(g, g).split(" - ")[0], ranked([n for n in names if n in labels]))
        for g, names in groups.items()
    ]
    rest = [n for n in labels if n not in grouped]
    out = [(title, items) for title, items in out if items]
    return out + ([("Other", ranked(rest))] if rest else [])


def format_price(price: float | None, currency: str | None) -> str:
    """79.0, "USD" -> "$79.00"; 1299, "JPY" -> "¥1,299"; another code follows the amount."""
    if price is None:
        return ""
    code = (currency or "").strip().upper()
    symbol, decimals = _CURRENCIES.get(code, ("", 2))
    amount = Decimal(str(price)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{amount:,.{decimals}f}"
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{code} {text}" if code else text
