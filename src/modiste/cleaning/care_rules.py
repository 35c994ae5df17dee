"""Text folding and the pattern tables behind :func:`modiste.cleaning.care_labels.parse_care_text`.

Care labels are read by OCR, so every pattern runs on text that has been folded to one form first:
NFKC (full-width digits and ``℃`` become ASCII), lower case, Latin accents stripped (OCR drops them
half the time anyway), and letters that OCR confuses with digits fixed *only* next to digits.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Fillers allowed between a percentage and its fibre ("65 % de coton", "100% reine Baumwolle").
_FILLER = (
    r"(?:(?:de|di|of|du|en|pure|puro|pura|pur|reine|echte|organic|organico|bio|recycled|recycle|"
    r"recycelt|recycelte|reciclado|riciclato|virgin|vierge|schurwolle)\s+)*"
)
GAP_AFTER = re.compile(r"^[\s:：\-/.,;|()]{0,3}" + _FILLER + r"$")
GAP_BEFORE = re.compile(r"^[\s:：\-=.,]{0,3}$")
NEXT_WORD = re.compile(r"[\s:：\-/.,;|()]{0,3}([a-z]{5,})")
PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{1,2})?)\s*%")
_TEMPS = "20|30|40|50|60|70|95"
TEMP = re.compile(
    rf"(?<!\d)({_TEMPS})\s*(?:[°*º]\s*c?|%\s*c|[o0]\s*c(?![a-z])|c(?![a-z])|degrees?)"
)


def fold(text: str) -> str:
    """One comparable form: NFKC, lower case, no Latin accents, OCR digit slips fixed, one space."""
    t = unicodedata.normalize("NFKC", text).lower()
    # Strip only Latin combining marks: NFKD would also split Japanese ポ into ホ + a mark.
    t = unicodedata.normalize("NFKD", t)
    t = "".join(ch for ch in t if not ("\u0300" <= ch <= "\u036f"))
    t = unicodedata.normalize("NFC", t)
    t = re.sub(r"([a-z])-\s*\n\s*([a-z])", r"\1\2", t)  # hyphenated line break
    t = re.sub(r"\s+", " ", t)
    return fix_digits(t)


_DIGIT_LOOKALIKE = {"z": "7", "s": "5", "b": "8", "g": "6"}


def fix_digits(t: str) -> str:
    """``1OO%`` -> ``100%``, ``l00%`` -> ``100%``, ``3O°`` -> ``30°``, ``c0tt0n`` -> ``cotton``."""
    prev = None
    t = re.sub(r"(?<=[a-z])0(?=[a-z0]*[a-z])", "o", t)  # "c0tt0n": OCR put zeros in a word
    # Only a number can precede "%": "POLYESTERZ%SPANDEX" is "polyester 7% spandex".
    t = re.sub(r"[zsbg](?=\s?%)", lambda m: _DIGIT_LOOKALIKE[m.group(0)], t)
    while prev != t:
        prev = t
        t = re.sub(r"(?<=\d)[o]|[o](?=\d)", "0", t)
        t = re.sub(r"(?<![a-z])[li|!](?=[0o]{1,2}\s*%)", "1", t)
    return t


def _latin(word: str) -> bool:
    return all(ord(ch) < 0x250 for ch in word)


def _word_pattern(word: str) -> str:
    """A regex for one vocabulary word: word-bounded if Latin; long words may be split by OCR."""
    if not _latin(word):
        return re.escape(word)
    if len(word) >= 6:
        body = r"[\s\-]?".join(re.escape(ch) for ch in word if ch != " ")
    else:
        body = re.escape(word).replace(r"\ ", r"\s")
    return rf"(?<![a-z]){body}(?![a-z])"


@dataclass(frozen=True)
class Vocabulary:
    """Compiled fibre and garment-part patterns; ``canonical`` maps a folded spelling to its key."""

    fibre_re: re.Pattern[str]
    fibre_of: dict[str, str]
    part_re: re.Pattern[str]
    part_of: dict[str, str]

    def fibre(self, matched: str) -> str:
        return self.fibre_of[re.sub(r"[\s\-]", "", matched)]

    def fuzzy_fibre(self, word: str) -> str | None:
        """The fibre a misread Latin word most likely is ("polyesier"), or None."""
        if len(word) < 5:
            return None
        longs = [k for k in self.fibre_of if len(k) >= 5 and _latin(k)]
        best = difflib.get_close_matches(word, longs, n=1, cutoff=0.8)
        return self.fibre_of[best[0]] if best else None

    def part(self, matched: str) -> str:
        return self.part_of[re.sub(r"\s+", " ", matched.strip())]


def _alternation(table: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
    canonical: dict[str, str] = {}
    for key, words in table.items():
        for w in words:
            canonical[fold(w)] = key
    # Longest first so 羽毛 (feather) wins over 毛 (wool) and "outer shell" over "outer".
    words = sorted(canonical, key=len, reverse=True)
    return "|".join(_word_pattern(w) for w in words), canonical


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (``cleaning/data/care_vocab.json``), compiled once."""
    raw = json.loads(
        resources.files("modiste.cleaning").joinpath("data/care_vocab.json").read_text("utf-8")
    )
    fibre_alt, fibre_of = _alternation(raw["fibres"])
    fibre_of = {k.replace(" ", ""): v for k, v in fibre_of.items()}
    part_alt, part_of = _alternation(raw["parts"])
    # A part marker must be followed by a colon, a number or a fibre name: "lining: 100% ...",
    # "表地 綿100%"; this keeps "fabric softener" or "body" in prose from opening a section.
    part_re = re.compile(rf"({part_alt})(?=\s*[:：\-/]?\s*(?:\d|{fibre_alt}))")
    return Vocabulary(re.compile(fibre_alt), fibre_of, part_re, part_of)


# Care instructions: (canonical name, pattern) tried in order on folded text. A span matched by an
# earlier rule is consumed, so "do not dry clean" never also yields "dry clean".
_CARE_RULES: list[tuple[str, str]] = [
    (
        "do not wash",
        r"do not wash|don'?t wash|ne pas laver|nicht waschen|no lavar(?! en seco)|"
        r"non lavare(?! a secco)|家庭洗濯(?:は)?不可|洗濯(?:は)?不可|水洗い不可|不可水洗|禁止水洗|"
        r"请勿水洗",
    ),
    (
        "only non-chlorine bleach",
        r"non[\s\-]?chlorine bleach|only oxygen bleach|sans chlore|"
        r"ohne chlor|sin cloro|senza cloro|酸素系漂白[剤剂]",
    ),
    (
        "do not bleach",
        r"do not bleach|don'?t bleach|no bleach|ne pas (?:blanchir|javelliser)|"
        r"pas de (?:javel|chlore|blanchiment)|nicht bleichen|keine bleiche|no (?:usar )?lejia|"
        r"no blanquear|non candeggiare|漂白[剤剂](?:の使用)?(?:は)?(?:できない|不可|禁止)|"
        r"不可漂白|禁止漂白|"
        r"请勿漂白",
    ),
    (
        "do not tumble dry",
        r"do not tumble(?: dry)?|don'?t tumble(?: dry)?|no tumble dry|"
        r"ne pas (?:secher|sechage) en (?:machine|tambour)|pas de sechage en tambour|"
        r"ne pas utiliser (?:de|le) seche[\s\-]?linge|nicht (?:im trockner )?(?:trocknen|tumbeln)|"
        r"nicht (?:trocknergeeignet|im trockner)|no (?:usar )?(?:la )?secadora|"
        r"no secar en secadora|"
        r"non asciugare (?:nell'|in )?asciugatrice|タンブル乾燥(?:は)?(?:お避け|禁止|不可)|"
        r"不可(?:转笼|滚筒|翻转)|请勿(?:转笼|滚筒)",
    ),
    (
        "tumble dry low",
        r"tumble dry,? (?:low|cool|gentle)|sechage (?:en )?tambour (?:a )?(?:basse|faible|"
        r"doux)|trockner (?:bei )?(?:niedriger|geringer|reduzierter)|schonend trocknen|"
        r"secadora (?:a )?baja|asciugatrice (?:a )?bassa|低温(?:で|の)?タンブル|低温(?:转笼|滚筒)",
    ),
    (
        "tumble dry",
        r"tumble dry|sechage en tambour|seche[\s\-]?linge|trocknergeeignet|"
        r"trockner|secadora|asciugatrice|タンブル乾燥|(?:转笼|滚筒)(?:干燥|烘干)",
    ),
    (
        "dry flat",
        r"dry flat|lay flat to dry|(?:sechage|secher) a plat|liegend trocknen|"
        r"secar en (?:plano|horizontal)|asciugare in piano|平干し|平(?:摊|铺)晾干",
    ),
    (
        "line dry",
        r"line dry|hang (?:to )?dry|drip dry|sechage (?:sur fil|vertical)|"
        r"auf der leine|secar colgad[oa]|asciugare appeso|つり干し|吊干|悬挂晾干",
    ),
    (
        "do not iron",
        r"do not iron|don'?t iron|no iron(?:ing)?(?! at)|ne pas repasser|"
        r"nicht bugeln|no planchar|non stirare|アイロン(?:仕上げ)?(?:は)?(?:不可|禁止|できない)|"
        r"不可熨烫|禁止熨烫|请勿熨烫",
    ),
    (
        "iron low",
        r"iron(?:ing)? (?:on |at )?low|cool iron|low iron|(?:repassage|repasser) (?:a )?"
        r"(?:basse|doux|fer doux)|fer doux|bugeln (?:bei |mit )?(?:niedriger|geringer)|"
        r"planchar a baja|stirare a bassa|低温(?:で|の)?アイロン|アイロン(?:は)?低温|低温熨烫",
    ),
    (
        "iron medium",
        r"iron(?:ing)? (?:on |at )?medium|warm iron|(?:repassage|repasser) (?:a )?"
        r"(?:moyenne|temperature moyenne)|bugeln (?:bei |mit )?mittlerer|"
        r"planchar a (?:temperatura )?"
        r"media|stirare a media|中温(?:で|の)?アイロン|アイロン(?:は)?中温|中温熨烫",
    ),
    (
        "iron high",
        r"iron(?:ing)? (?:on |at )?high|hot iron|(?:repassage|repasser) (?:a )?(?:haute|"
        r"chaud)|bugeln (?:bei |mit )?hoher|planchar a (?:temperatura )?alta|stirare ad alta|"
        r"高温(?:で|の)?アイロン|アイロン(?:は)?高温|高温熨烫",
    ),
    ("iron", r"(?<!env)iron(?!ment|ic)|repasser|repassage|bugeln|planchar|stirare|アイロン|熨烫"),
    (
        "do not dry clean",
        r"do not dry[\s\-]?clean|don'?t dry[\s\-]?clean|no dry[\s\-]?clean|"
        r"ne pas nettoyer a sec|pas de nettoyage a sec|nicht chemisch reinigen|"
        r"keine chemische reinigung|no (?:limpiar|lavar) en seco|non lavare a secco|"
        r"ドライクリーニング(?:は)?(?:不可|できない|禁止)|不可干洗|禁止干洗|请勿干洗",
    ),
    (
        "dry clean",
        r"dry[\s\-]?clean|nettoyage a sec|nettoyer a sec|chemisch reinigen|"
        r"chemische reinigung|(?:limpiar|lavar) en seco|limpieza en seco|lavare a secco|"
        r"lavaggio a secco|ドライクリーニング|干洗",
    ),
    (
        "do not wring",
        r"do not wring|ne pas essorer|nicht wringen|no retorcer|non strizzare|"
        r"絞り?(?:は)?(?:不可|禁止)|不可拧干",
    ),
    (
        "wash separately",
        r"wash (?:separately|with (?:like|similar) colou?rs)|laver separement|"
        r"separat waschen|lavar por separado|lavare separatamente|分けて洗|单独洗涤|分开洗",
    ),
    (
        "hand wash",
        r"hand[\s\-]?wash|wash by hand|lav(?:age|er) a la main|handwasche|"
        r"lavar a mano|lavado a mano|lavare a mano|手洗い|手洗",
    ),
    (
        "machine wash cold",
        r"machine wash cold|wash cold|cold wash|lavage a froid|kalt waschen|"
        r"lavar en frio|lavare a freddo|冷水洗",
    ),
    (
        "machine wash",
        r"machine wash|lavage (?:en )?machine|maschinenwasche|waschmaschine|"
        r"lavar a maquina|lavado a maquina|lavatrice|洗濯機|机洗",
    ),
]


def despace(pattern: str) -> str:
    """A care pattern for text whose spaces were removed (OCR drops them: "DONOTBLEACH")."""
    return (
        pattern.replace(r"[\s\-]?", r"\-?")
        .replace(r"\s?", "")
        .replace(r"\s*", "")
        .replace(r"\s+", "")
        .replace(r"\s", "")
        .replace(" ", "")
    )


CARE_RULES: list[tuple[str, re.Pattern[str]]] = [
    (n, re.compile(despace(p))) for n, p in _CARE_RULES
]

_WASH_CUE = (
    r"hand[\s\-]?wash|handwasche|machine wash|wash(?:ing)?|lavage|laver|lavar|lavare|lavado|"
    r"waschen|wasche|waschgang|洗濯|手洗い|手洗|水洗|水温|液温|洗"
)
_HAND = re.compile(r"hand|main|mano|手")
WASH_TEMP = [
    re.compile(despace(rf"(?:{_WASH_CUE})[^\d]{{0,30}}?{TEMP.pattern}")),
    re.compile(despace(rf"{TEMP.pattern}\s*(?:water\s*)?(?:{_WASH_CUE})")),
    # "machine wash 30": a bare number right after the wash words, never a percentage.
    re.compile(despace(rf"(?:{_WASH_CUE})\s?(?:at |a |bei )?({_TEMPS})(?![\d%.,])")),
]


def is_hand(text: str) -> bool:
    """Whether a wash phrase speaks of hand washing (in any of the languages above)."""
    return bool(_HAND.search(text))
