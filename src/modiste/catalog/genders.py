"""One gender vocabulary for the whole catalog (issue #14 item 11).

Feeds spell gender as they like ("Men", "male", "Women's", "ladies", "メンズ") and the text
categorizer writes "Men"/"Women", so filter lists showed "Men, Women, men, women". Imports store
the canonical lower-case value (the feed's own spelling stays in the ``gender_raw`` attribute);
everything that reads gender (filters, filter lists, labels) goes through :func:`normalise_gender`
too, so catalogs imported before this, and values the categorizer or a person wrote, read the
same without a migration rewriting them.
"""

from __future__ import annotations

import re

# canonical value -> what a person reads
GENDERS: dict[str, str] = {
    "women": "Women",
    "men": "Men",
    "unisex": "Unisex",
    "girls": "Girls",
    "boys": "Boys",
    "kids": "Kids",
    "baby": "Baby",
}
# other spellings seen in feeds, lower case, one word each
_ALIASES: dict[str, str] = {
    "women": """woman womens women's women’s womens' female females f w ladies lady damen femme
        femmes mujer donna レディース 女性 婦人""",
    "men": """man mens men's men’s mens' male males m gents herren homme hommes hombre uomo
        メンズ 男性 紳士""",
    "unisex": "unisexe all both adult adults ユニセックス 男女兼用",
    "girls": "girl girl's girls' fille filles mädchen ガールズ 女の子",
    "boys": "boy boy's boys' garçon garçons jungen ボーイズ 男の子",
    "kids": """kid kids' children children's child childrens youth junior juniors enfant
        enfants kinder キッズ 子供 子ども""",
    "baby": "babies infant infants newborn toddler toddlers bébé ベビー",
}
_CANONICAL: dict[str, str] = {
    alias: canon for canon, aliases in _ALIASES.items() for alias in (canon, *aliases.split())
}
_POSSESSIVE = re.compile(r"['’]s?$")


def _key(raw: str) -> str:
    return " ".join(raw.lower().split())


def normalise_gender(raw: str | None) -> str | None:
    """The canonical value for ``raw`` ("Women's" -> "women"); an unknown value lower-cased,
    blank -> None. Idempotent: a canonical value maps to itself."""
    if raw is None:
        return None
    key = _key(raw)
    if not key:
        return None
    return _CANONICAL.get(key) or _CANONICAL.get(_POSSESSIVE.sub("", key)) or key


def gender_spellings(value: str | None) -> list[str]:
    """Every lower-case spelling that means the same as ``value``, for filters over stored
    values that predate normalisation (and the categorizer's "Women")."""
    canon = normalise_gender(value)
    if canon is None:
        return []
    return sorted({canon, *(a for a, c in _CANONICAL.items() if c == canon)})


def gender_label(value: str | None) -> str:
    """What a shopper reads: "Women" for any spelling of it, an unknown value capitalised."""
    canon = normalise_gender(value)
    if canon is None:
        return ""
    text = (value or "").strip()
    return GENDERS.get(canon) or text[:1].upper() + text[1:]
