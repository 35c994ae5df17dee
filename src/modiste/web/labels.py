"""Words for shoppers: shot types and prices as people read them (issue #14 item 13).

The catalog keeps its internal names (``near_front``, ``whole_image``, ``79.0``); the shopper's
pages show these instead. Admin pages (editor, gallery review) keep the internal ids, which is
what the API and the regulations use.
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
