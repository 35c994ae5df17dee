"""Read fibre composition and care instructions from care-label text or photos.

The parser (:func:`parse_care_text`) is a pure function over text, so it is tested on many strings
in milliseconds; :func:`read_care_label` adds OCR in front of it and the pictogram reader
(:mod:`modiste.cleaning.care_symbols`) beside it, text winning where the two disagree. OCR
output is noisy ("1OO %COTTON", dropped spaces, words split over lines), so the parser folds
text first (see :mod:`modiste.cleaning.care_rules`) and pairs each percentage with the fibre
name right beside it, choosing per label whether names come after ("65% polyester") or before
("綿 100%") the numbers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from modiste.cleaning import care_rules as R

if TYPE_CHECKING:
    from PIL import Image

    from modiste.models.ocr import OcrLine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FibreShare:
    """One fibre of a composition; ``part`` is e.g. "shell" or "lining" (None: whole garment)."""

    fibre: str
    percent: float
    part: str | None = None


@dataclass
class CareInfo:
    """What a care label says, in canonical English names (``cleaning/data/care_vocab.json``)."""

    composition: list[FibreShare] = field(default_factory=list)
    care: list[str] = field(default_factory=list)
    raw_text: str = ""
    # Where each care item was read: "text", "symbol" or "text+symbol".
    care_sources: dict[str, str] = field(default_factory=dict)
    # The pictogram row, left to right (SymbolHit.to_dict()): read even where text won.
    symbols: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.composition and not self.care

    def to_dict(self) -> dict[str, Any]:
        """The attribute dict stored on a product: JSON-ready, percents as int when whole."""
        comp = []
        for s in self.composition:
            d = asdict(s)
            d["percent"] = int(s.percent) if float(s.percent).is_integer() else s.percent
            comp.append(d)
        return {
            "composition": comp,
            "care": list(self.care),
            "care_sources": dict(self.care_sources),
            "symbols": list(self.symbols),
            "raw_text": self.raw_text,
        }


class OcrLike(Protocol):
    """Anything with ``read(image) -> lines`` having ``.text`` and ``.box`` (an OcrReader)."""

    def read(self, image: Image.Image) -> list[OcrLine]: ...


# ----------------------------------------------------------------------------- composition


def _segments(text: str, vocab: R.Vocabulary) -> list[tuple[str | None, int, int]]:
    """Split folded text at garment-part markers ("lining:", "表地") into (part, start, end)."""
    out: list[tuple[str | None, int, int]] = []
    part, start = None, 0
    for m in vocab.part_re.finditer(text):
        if m.start() > start or part is not None:
            out.append((part, start, m.start()))
        part, start = vocab.part(m.group(0)), m.end()
    out.append((part, start, len(text)))
    return out


@dataclass(frozen=True)
class _Hit:
    start: int
    fibre: str


def _pairs(
    text: str, start: int, end: int, vocab: R.Vocabulary
) -> list[tuple[float, _Hit | None, _Hit | None]]:
    """For each percentage in text[start:end]: (value, fibre right after, fibre right before)."""
    seg = text[start:end]
    fibres = list(vocab.fibre_re.finditer(seg))
    rows = []
    for pm in R.PERCENT.finditer(seg):
        value = float(pm.group(1).replace(",", "."))
        if not 0 < value <= 100:
            continue
        after = next(
            (
                _Hit(f.start(), vocab.fibre(f.group(0)))
                for f in fibres
                if f.start() >= pm.end() and R.GAP_AFTER.match(seg[pm.end() : f.start()])
            ),
            None,
        )
        if after is None and (w := R.NEXT_WORD.match(seg, pm.end())) is not None:
            guess = vocab.fuzzy_fibre(w.group(1))  # OCR misread: "polyesier"
            after = _Hit(w.start(1), guess) if guess else None
        before = next(
            (
                _Hit(f.start(), vocab.fibre(f.group(0)))
                for f in reversed(fibres)
                if f.end() <= pm.start() and R.GAP_BEFORE.match(seg[f.end() : pm.start()])
            ),
            None,
        )
        rows.append((value, after, before))
    return rows


def parse_composition(folded: str) -> list[FibreShare]:
    """Fibre shares from folded text (see :func:`modiste.cleaning.care_rules.fold`)."""
    vocab = R.vocabulary()
    segs = [(part, _pairs(folded, s, e, vocab)) for part, s, e in _segments(folded, vocab)]
    n_after = sum(1 for _, rows in segs for _, a, _ in rows if a is not None)
    n_before = sum(1 for _, rows in segs for _, _, b in rows if b is not None)
    names_first = n_before > n_after  # "綿 65% ポリエステル 35%" vs "65% polyester 35% cotton"
    out: list[FibreShare] = []
    seen: set[tuple[str, float, str | None]] = set()
    for part, rows in segs:
        used: set[int] = set()
        for value, after, before in rows:
            order = (before, after) if names_first else (after, before)
            m = next((x for x in order if x is not None and x.start not in used), None)
            if m is None:
                continue
            used.add(m.start)
            key = (m.fibre, value, part)
            if key not in seen:  # labels repeat one composition in several languages
                seen.add(key)
                out.append(FibreShare(*key))
    return out


# ----------------------------------------------------------------------------- care


def parse_care_instructions(folded: str) -> list[str]:
    """Canonical care instructions in the order they appear on the label."""
    folded = folded.replace(" ", "")
    taken = [False] * len(folded)
    found: list[tuple[int, str]] = []

    def claim(m: re.Match[str], name: str) -> None:
        if any(taken[m.start() : m.end()]):
            return
        taken[m.start() : m.end()] = [True] * (m.end() - m.start())
        found.append((m.start(), name))

    for pattern in R.WASH_TEMP:
        for m in pattern.finditer(folded):
            kind = "hand wash" if R.is_hand(m.group(0)) else "machine wash"
            claim(m, f"{kind} {int(m.group(1))}")
    for name, pattern in R.CARE_RULES:
        for m in pattern.finditer(folded):
            claim(m, name)
    names: list[str] = []
    for _, name in sorted(found):
        if name not in names:
            names.append(name)
    # A plain "machine wash" adds nothing next to "machine wash 30".
    if any(n.startswith("machine wash ") for n in names) and "machine wash" in names:
        names.remove("machine wash")
    if any(n.startswith("hand wash ") for n in names) and "hand wash" in names:
        names.remove("hand wash")
    return names


def parse_care_text(text: str) -> CareInfo:
    """Fibre composition and care instructions from label text (OCR output or a feed field)."""
    folded = R.fold(text or "")
    care = parse_care_instructions(folded)
    return CareInfo(parse_composition(folded), care, text or "", dict.fromkeys(care, "text"))


# ----------------------------------------------------------------------------- merge with text

# Instructions that exclude each other: a label says one of each family. Names outside these
# (wash separately, do not wring) never conflict.
_FAMILIES = {
    "wash": ("machine wash", "hand wash", "do not wash"),
    "bleach": ("bleach", "only non-chlorine bleach", "do not bleach"),
    "tumble": ("tumble dry", "do not tumble dry"),
    "natural": ("line dry", "dry flat"),
    "iron": ("iron", "do not iron"),
    "dry clean": ("dry clean", "do not dry clean"),
    "wet clean": ("wet clean", "do not wet clean"),
}


def care_family(name: str) -> str:
    """The family a care name belongs to ("machine wash 30" -> "wash"); else the name itself."""
    for family, heads in _FAMILIES.items():
        if any(name == h or name.startswith(h + " ") for h in heads):
            return family
    return name


def merge_care(text: list[str], symbols: list[str]) -> tuple[list[str], dict[str, str]]:
    """Text and symbol readings as one list, and where each item came from.

    Text wins a conflict (OCR of a printed word is surer than a 15-pixel pictogram), with one
    exception: a symbol that refines the text's generic name ("machine wash" + tub "30") gives
    its detail. Agreeing items are marked ``text+symbol``; symbols of a family the text does not
    mention are added (``symbol``) in row order.
    """
    care = list(text)
    sources = dict.fromkeys(care, "text")
    for name in symbols:
        if name in sources:
            if sources[name] == "text":
                sources[name] = "text+symbol"
            continue
        family = care_family(name)
        same = [c for c in care if care_family(c) == family]
        if not same:
            care.append(name)
            sources[name] = "symbol"
        elif len(same) == 1 and sources[same[0]] == "text" and name.startswith(same[0] + " "):
            care[care.index(same[0])] = name
            del sources[same[0]]
            sources[name] = "text+symbol"
    return care, sources


# ----------------------------------------------------------------------------- OCR


def lines_to_text(lines: list[OcrLine]) -> str:
    """Join OCR lines in reading order: rows top to bottom, left to right within a row."""
    if not lines:
        return ""
    heights = sorted(max(1.0, ln.box.y2 - ln.box.y1) for ln in lines)
    row_h = heights[len(heights) // 2] * 0.6
    ordered = sorted(lines, key=lambda ln: ((ln.box.y1 + ln.box.y2) / 2, ln.box.x1))
    rows: list[list[OcrLine]] = []
    for ln in ordered:
        cy = (ln.box.y1 + ln.box.y2) / 2
        if rows and abs(cy - (rows[-1][0].box.y1 + rows[-1][0].box.y2) / 2) < row_h:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return "\n".join(" ".join(x.text for x in sorted(r, key=lambda ln: ln.box.x1)) for r in rows)


def _score(info: CareInfo) -> int:
    return 2 * len(info.composition) + len(info.care)


def read_care_label(
    image: Image.Image | bytes | str | Path,
    ocr: OcrLike | None = None,
    *,
    try_rotations: bool = True,
    symbols: bool = True,
) -> CareInfo:
    """OCR a care-label photo, parse it, and read its ISO 3758 pictograms.

    Args:
        image: a PIL image, or bytes/path decoded with :func:`modiste.imaging.decode_image`.
        ocr: a reader with ``read(image)`` (default: a new :class:`modiste.models.ocr.OcrReader`;
            pass one in to reuse its loaded engine across images).
        try_rotations: when the upright reading finds nothing, also read the image turned 90° both
            ways (labels photographed sideways) and keep the reading that parses best.
        symbols: also read the pictogram row (upright photo only; the reader takes tilts up to
            ~40°) and merge it with the text (:func:`merge_care`).
            A missing or unreadable symbol model is logged and the text reading kept.
    """
    from PIL import Image as PILImage

    if not isinstance(image, PILImage.Image):
        from modiste.imaging import decode_image

        image = decode_image(image).image
    photo = image
    if max(image.size) < 900:  # phone crops of labels are small; OCR misses small text
        f = min(3.0, 960 / max(image.size))
        size = (round(image.width * f), round(image.height * f))
        image = image.resize(size, PILImage.Resampling.LANCZOS)
    if ocr is None:
        from modiste.models.ocr import OcrReader

        ocr = OcrReader()
    best = parse_care_text(lines_to_text(ocr.read(image)))
    if best.empty and try_rotations:
        for angle in (90, 270):
            info = parse_care_text(lines_to_text(ocr.read(image.rotate(angle, expand=True))))
            if _score(info) > _score(best):
                best = info
    if symbols:
        _add_symbols(best, photo)
    log.debug("care label: %d fibres, %d care", len(best.composition), len(best.care))
    return best


def _add_symbols(info: CareInfo, photo: Image.Image) -> None:
    from modiste.cleaning.care_symbols import read_care_symbols
    from modiste.errors import ModelError

    try:
        hits = read_care_symbols(photo)
    except ModelError as e:
        log.warning("care symbols not read: %s", e)
        return
    # A row shows one symbol per family; two read in one family (a misread) keep the surer one.
    surest: dict[str, float] = {}
    for h in hits:
        if h.care:
            fam = care_family(h.care)
            surest[fam] = max(surest.get(fam, 0.0), h.confidence)
    names = [h.care for h in hits if h.care and h.confidence == surest[care_family(h.care)]]
    info.care, info.care_sources = merge_care(info.care, names)
    info.symbols = [h.to_dict() for h in hits]
