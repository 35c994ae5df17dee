"""OCR cue for the text-heavy shot classes: wash_tag, brand_tag, size_chart.

The head learns labels and charts from generated photos and reads real ones poorly (a hand-held
care tape looks like any close-up); what a label *says* is a better witness. This stage runs
after the head, at predict time only (the head is untouched), and only on the photos the head
already puts on or near the label classes (:func:`needs_ocr`), so a catalog of model shots
pays almost nothing for it. The rule (:func:`text_shot`) reads meaning, not looks:

- care content (fibre composition, care phrases, care-label field names, "made in") →
  ``wash_tag``, except when the head itself says ``brand_tag``: a printed neck label carries
  the composition too, and only the look tells it from a care tape;
- else a size/measurement table (several lines of mostly digits) → ``size_chart``;
- else a few short, large, letter-only words on a photo the head already takes for a brand
  label but is unsure of → ``brand_tag`` (words alone never make a label: slogans are words);
- else, on a close-up the head does not take for a brand label, a row of at least
  ``SYMBOL_ROW_MIN`` ISO 3758 care pictograms (:mod:`modiste.cleaning.care_symbols`) →
  ``wash_tag``: the symbol row is what makes a care label, whatever language its text is in.

No text, or text that means none of these, leaves the head's answer as it is. Figures, gate
and caveats: ``docs/decisions/shot-classifier.md`` ("OCR cue").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from modiste.domain import ShotPrediction
from modiste.errors import ImageDecodeError, ModelError

if TYPE_CHECKING:
    from PIL import Image

    from modiste.models.ocr import OcrLine

log = logging.getLogger(__name__)

WASH, BRAND, CHART = "wash_tag", "brand_tag", "size_chart"
TEXT_CLASSES = (WASH, BRAND, CHART)
GALLERY_GROUPS = ("model", "garment")  # taxonomy groups of photos that show the whole garment

# The gate. A photo goes to OCR when the head's top class is a text class or the text classes
# together hold LABEL_MASS_MIN of its probability. Being unsure alone is no reason to read: an
# unsure flat lay or catalog photo is unsure between gallery classes (with the second-round
# head, 5 of the 10 clothing-dataset / printed-top photos that gate read gave the text classes
# < 0.1, and none was changed). Chosen on the gallery samples' cost, so that model shots and
# product photos rarely pay for OCR (docs/decisions/shot-classifier.md, "OCR cue").
LABEL_MASS_MIN = 0.1
OCR_SIDE = 960  # long side the text detector sees (small label photos are brought up to it)
# ... by at most this factor. 224 px catalog thumbnails were blown up 4.3x: the read cost 3x
# more and decided nothing else on the real sets (real label photos of 512 px are read at
# 1.9x either way; docs/decisions/shot-classifier.md, "OCR cue").
OCR_MAX_UPSCALE = 2.0
MIN_LINE_SCORE = 0.5  # recognised lines under this are noise (a pictogram read as a letter)
# The confidence an OCR decision is stored with (the head's own probability when higher): sure
# enough to leave "unknown" behind and to sort below confident head answers in review lists.
OCR_CONFIDENCE = 0.75
CHART_MIN_ROWS = 4  # lines of mostly digits that make a table (2 with a size word beside them)
# A brand label read as text: a few words, set large, on a photo the head already takes for a
# label (text classes hold at least half, brand_tag first among them). Short large words are
# also what a printed slogan shows (a flat-laid tee printed "JEANS ... SURVIVOR", head unsure
# with 0.38 on the text classes, was read as a brand label at 0.25), so the look must agree.
BRAND_MASS_MIN = 0.5
BRAND_MIN_HEIGHT = 0.07  # tallest line / image height
# Care pictograms in one row that make a care label when the text names none. A care label
# carries a row of 4-6; on the 38 real fabric close-ups the symbol reader finds at most 2
# (thread texture read as symbols), on the 4 real care labels 2, 2, 4 and 5.
SYMBOL_ROW_MIN = 3

# Words that appear on care labels and nowhere else (field names of label standards, e.g.
# GB 5296.4's 成分 / 号型 / 执行标准; "composition", "care instructions" in the parser's
# languages). Matched on folded text (lower case, no accents).
_LABEL_FIELDS = re.compile(
    r"成分|面料|里料|含量|洗涤|洗濯|執行標準|执行标准|安全类别|安全類別|号型|品質表示|組成|"
    r"(?<![a-z])(?:composition|zusammensetzung|composicion|composizione|materiaux|"
    r"care instructions?|pflegehinweise?|entretien|cuidados|lavaggio)(?![a-z])"
)
_MADE_IN = re.compile(
    r"made\s?in|fabrique\s?(?:en|au)(?![a-z])|hergestellt\s?in(?![a-z])|"
    r"hecho\s?en(?![a-z])|fabricado\s?en(?![a-z])|prodotto\s?in(?![a-z])|"
    r"中国制造|中國製造|[国國][产產]|(?:中国|日本|韓国|ベトナム)製|原产地|产地"
)
_RN = re.compile(r"(?<![a-z])rn\s?\d{4,6}(?!\d)")  # US registered-identification number
_SIZE_WORDS = re.compile(
    r"(?<![a-z])(?:size|sizes|grosse|große|taille|talla|taglia|chest|bust|waist|hips?|length|"
    r"brust|bund|poitrine|cintura|pecho|cm|inch|inches)(?![a-z])|尺码|尺寸|サイズ|胸围|腰围"
)


@dataclass(frozen=True)
class TextVerdict:
    """What a photo's text says about its shot: a text class, or None (leave the head's)."""

    label: str | None
    reason: str


@dataclass(frozen=True)
class HeadView:
    """What the rule needs to know of the head's answer for one photo."""

    top: str  # the head's most likely class (before its threshold)
    detail_side: bool  # close-ups, labels, charts hold >= 0.5 (not a whole-garment shot)
    text_mass: float  # probability on the text classes together
    top_text: str  # the most likely of the text classes

    @classmethod
    def of(cls, row: np.ndarray, labels: Sequence[str], detail: frozenset[str]) -> HeadView:
        probs = dict(zip(labels, (float(p) for p in row), strict=True))
        return cls(
            top=max(probs, key=lambda k: probs[k]),
            detail_side=sum(p for k, p in probs.items() if k in detail) >= 0.5,
            text_mass=sum(probs.get(c, 0.0) for c in TEXT_CLASSES),
            top_text=max(TEXT_CLASSES, key=lambda c: probs.get(c, 0.0)),
        )


def label_mass(row: np.ndarray, labels: Sequence[str]) -> float:
    """How much of the head's probability sits on the text classes."""
    return float(sum(p for lab, p in zip(labels, row, strict=True) if lab in TEXT_CLASSES))


def needs_ocr(row: np.ndarray, labels: Sequence[str], threshold: float) -> bool:
    """The gate: is this photo worth reading? Only if the head leans to a label.

    ``threshold`` (the head's) is not used: an unsure head is not a reason to read a photo.
    """
    k = int(np.argmax(row))
    return labels[k] in TEXT_CLASSES or label_mass(row, labels) >= LABEL_MASS_MIN


def _numeric(text: str) -> bool:
    """A line that is mostly digits: a table row ("81012141618", "Waist 62 66 71")."""
    chars = [ch for ch in text if not ch.isspace()]
    digits = sum(ch.isdigit() for ch in chars)
    return digits >= 2 and digits >= 0.5 * len(chars)


def text_shot(lines: Sequence[OcrLine], height: float, head: HeadView) -> TextVerdict:
    """The shot a photo's OCR lines point to (``height``: the image's, in the boxes' pixels)."""
    from modiste.cleaning.care_labels import lines_to_text, parse_care_text
    from modiste.cleaning.care_rules import fold

    lines = [ln for ln in lines if ln.score >= MIN_LINE_SCORE and ln.text.strip()]
    if not lines:
        return TextVerdict(None, "no text")
    text = lines_to_text(lines)
    folded = fold(text)
    care = parse_care_text(text)
    field = _LABEL_FIELDS.search(folded) or _RN.search(folded)
    made_in = _MADE_IN.search(folded) if head.detail_side else None
    if care.composition or care.care or field or made_in:
        what = (
            "fibre composition"
            if care.composition
            else "care instructions"
            if care.care
            else f"care-label word {(field or made_in).group(0)!r}"  # type: ignore[union-attr]
        )
        if head.top == BRAND:
            return TextVerdict(None, f"{what} on what the head takes for a brand label")
        return TextVerdict(WASH, what)
    numeric = sum(_numeric(ln.text) for ln in lines)
    if numeric >= CHART_MIN_ROWS or (numeric >= 2 and _SIZE_WORDS.search(folded)):
        return TextVerdict(CHART, f"a table: {numeric} rows of numbers")
    rows = [r for r in text.split("\n") if r.strip()]
    chars = sum(not ch.isspace() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    tallest = max(ln.box.y2 - ln.box.y1 for ln in lines) / max(height, 1.0)
    if (
        head.top not in TEXT_CLASSES
        and head.detail_side
        and head.top_text == BRAND
        and head.text_mass >= BRAND_MASS_MIN
        and len(rows) <= 3
        and 2 <= chars <= 24
        and letters >= 0.7 * chars
        and tallest >= BRAND_MIN_HEIGHT
    ):
        return TextVerdict(BRAND, "a few large words on what the head takes for a label")
    return TextVerdict(None, "text that names no label")


@lru_cache(maxsize=8)
def detail_labels(labels: tuple[str, ...]) -> frozenset[str]:
    """Classes that show part of a garment, a label or a chart, not the whole garment."""
    from modiste.gallery.taxonomy import load_taxonomy

    tax = load_taxonomy()
    gallery = {c.name for c in tax.classes if c.group in GALLERY_GROUPS}
    return frozenset({lab for lab in labels if lab not in gallery} | {"near_zoom"})


class TextShotStage:
    """Re-labels the gated photos by their text; ``refine`` keeps every other prediction."""

    def __init__(self, ocr: Any = None, symbols: Any = None) -> None:
        self._ocr = ocr
        # ``symbols(image) -> list`` of the pictogram row; None: the shipped symbol reader.
        self._symbols = symbols
        self.last_stats: dict[str, float] = {}

    def symbol_row(self, image: Image.Image) -> list[Any]:
        """The care-pictogram row the symbol reader finds (empty when none)."""
        if self._symbols is None:
            from modiste.cleaning.care_symbols import read_care_symbols

            self._symbols = read_care_symbols
        return list(self._symbols(image))

    def symbol_verdict(self, image: Image.Image, head: HeadView) -> TextVerdict | None:
        """wash_tag when a close-up shows a row of care pictograms (text named no label)."""
        if not head.detail_side or head.top == BRAND:
            return None
        try:
            row = self.symbol_row(image)
        except (ModelError, ImageDecodeError) as e:  # a missing model file keeps the text's say
            log.warning("care-symbol cue skipped for one photo: %s", e)
            return None
        if len(row) >= SYMBOL_ROW_MIN:
            return TextVerdict(WASH, f"a row of {len(row)} care symbols")
        return None

    @property
    def ocr(self) -> Any:
        if self._ocr is None:
            from modiste.models.ocr import OcrReader
            from modiste.models.onnx_runtime import default_threads

            # The backbone's thread share (MODISTE_INFERENCE_THREADS, set per Ray actor), not
            # RapidOCR's default of every core.
            self._ocr = OcrReader(max_side=OCR_SIDE, recognize=False, threads=default_threads())
        return self._ocr

    def read(self, image: Image.Image) -> list[OcrLine]:
        """Detect text lines, then recognise only those (no full-page reading pass); boxes in
        the image's own pixels."""
        from modiste.domain import Box
        from modiste.models.ocr import OcrLine

        im, f = image, 1.0
        if max(im.size) < OCR_SIDE:  # label photos are small; the detector misses small text
            f = min(OCR_SIDE / max(im.size), OCR_MAX_UPSCALE)
            im = im.resize((round(im.width * f), round(im.height * f)))
        boxes = [ln.box for ln in self.ocr.read(im)]
        words = self.ocr.words(im, boxes) if boxes else []
        return [
            OcrLine(t, Box(b.x1 / f, b.y1 / f, b.x2 / f, b.y2 / f), s)
            for (t, s), b in zip(words, boxes, strict=True)
        ]

    def decide(self, image: Image.Image, lines: Sequence[OcrLine], head: HeadView) -> TextVerdict:
        """The text's verdict on a read photo, then the symbol row's where the text named none."""
        verdict = text_shot(lines, image.height, head)
        if verdict.label is None:
            verdict = self.symbol_verdict(image, head) or verdict
        return verdict

    def refine(
        self,
        images: Sequence[Image.Image],
        proba: np.ndarray,
        labels: Sequence[str],
        threshold: float,
        detail: frozenset[str],
    ) -> list[TextVerdict | None]:
        """A verdict for each photo the gate sends to OCR (None for the others)."""
        out: list[TextVerdict | None] = []
        t0, n = time.perf_counter(), 0
        for im, row in zip(images, proba, strict=True):
            if not needs_ocr(row, labels, threshold):
                out.append(None)
                continue
            n += 1
            try:
                lines = self.read(im)
            except ModelError as e:  # one unreadable photo keeps the head's answer
                log.warning("OCR cue skipped for one photo: %s", e)
                out.append(None)
                continue
            out.append(self.decide(im, lines, HeadView.of(row, labels, detail)))
        self.last_stats = {"gated": float(n), "seconds": time.perf_counter() - t0}
        return out


def apply_verdict(pred: ShotPrediction, verdict: TextVerdict | None) -> ShotPrediction:
    """The prediction with the text's class, when the text names one the head did not say."""
    if verdict is None or verdict.label is None or verdict.label == pred.label:
        return pred
    conf = max(OCR_CONFIDENCE, float(pred.scores.get(verdict.label, 0.0)))
    return ShotPrediction(verdict.label, conf, pred.scores, f"{pred.source}+ocr")
