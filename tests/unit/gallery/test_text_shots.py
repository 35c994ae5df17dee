"""The OCR cue of the shot classifier: gate, rule on fake OCR lines, the classifier hook."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from modiste.domain import Box, ShotPrediction
from modiste.gallery.classifier import ShotClassifier
from modiste.gallery.text_shots import (
    BRAND,
    CHART,
    OCR_CONFIDENCE,
    WASH,
    HeadView,
    TextShotStage,
    TextVerdict,
    apply_verdict,
    detail_labels,
    needs_ocr,
    text_shot,
)
from modiste.models.ocr import OcrLine

LABELS = ["near_front", "flat_front", "near_zoom", "wash_tag", "brand_tag", "size_chart", "hem"]
LABEL_PHOTO = HeadView(top="hem", detail_side=True, text_mass=0.6, top_text=BRAND)
MODEL_SHOT = HeadView(top="near_front", detail_side=False, text_mass=0.05, top_text=WASH)


def _lines(*texts: str, height: float = 20.0, score: float = 0.9) -> list[OcrLine]:
    """One OCR line per text, stacked top to bottom, ``height`` pixels tall each."""
    return [
        OcrLine(t, Box(10, 10 + i * height * 1.5, 200, 10 + i * height * 1.5 + height), score)
        for i, t in enumerate(texts)
    ]


def _row(**p: float) -> np.ndarray:
    row = np.array([p.get(lab, 0.0) for lab in LABELS])
    return row / row.sum()


# ----------------------------------------------------------------------------- the gate


def test_gate_reads_label_like_photos_only() -> None:
    assert not needs_ocr(_row(near_front=0.97, wash_tag=0.03), LABELS, 0.5)  # a sure model shot
    assert needs_ocr(_row(near_zoom=0.43, hem=0.37, wash_tag=0.2), LABELS, 0.5)  # unsure, label-ish
    # Unsure between gallery classes: nothing points to text.
    assert not needs_ocr(_row(flat_front=0.45, near_front=0.4, hem=0.1, wash_tag=0.05), LABELS, 0.5)
    assert needs_ocr(_row(wash_tag=0.97, hem=0.03), LABELS, 0.5)  # the head says label
    # Sure of a close-up class, but the text classes hold 0.1 or more.
    assert needs_ocr(_row(hem=0.85, brand_tag=0.15), LABELS, 0.5)
    assert not needs_ocr(_row(hem=0.95, brand_tag=0.05), LABELS, 0.5)


def test_head_view_from_probabilities() -> None:
    detail = detail_labels(tuple(LABELS))
    assert detail == {"near_zoom", "wash_tag", "brand_tag", "size_chart", "hem"}
    view = HeadView.of(_row(hem=0.5, brand_tag=0.3, wash_tag=0.1, near_front=0.1), LABELS, detail)
    assert (view.top, view.detail_side, view.top_text) == ("hem", True, BRAND)
    assert view.text_mass == pytest.approx(0.4)


# ----------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    "texts",
    [
        ("65% POLYESTER", "35% COTTON"),  # composition
        ("Machine wash 30°C", "Do not bleach"),  # care phrases
        ("Made in china", "洗涤说明："),  # a GB care-label field name
        ("RN 111817",),  # a US registered-identification number
        ("93%POLYESTERZ%SPANDEX",),  # OCR slips the parser folds
    ],
)
def test_care_content_makes_a_wash_tag(texts: tuple[str, ...]) -> None:
    assert text_shot(_lines(*texts), 400, LABEL_PHOTO).label == WASH


def test_made_in_alone_counts_only_off_the_gallery_side() -> None:
    """ "MADE IN BROOKLYN" is a T-shirt print as often as a label line."""
    assert text_shot(_lines("MADEINCHINA"), 400, LABEL_PHOTO).label == WASH
    assert text_shot(_lines("MADE IN BROOKLYN"), 400, MODEL_SHOT).label is None


def test_composition_on_what_the_head_calls_a_brand_label_stays_a_brand_label() -> None:
    """A printed neck label carries the composition too; the text cannot tell it from a tape."""
    head = HeadView(top=BRAND, detail_side=True, text_mass=0.9, top_text=BRAND)
    v = text_shot(_lines("93% POLYESTER", "7% SPANDEX", "FANNAI"), 400, head)
    assert v.label is None and "brand" in v.reason


def test_a_table_of_numbers_makes_a_size_chart() -> None:
    rows = ("Size S M L XL", "Chest 86 91 97 103", "Waist 62 67 72 77", "81012141618")
    assert text_shot(_lines(*rows), 400, MODEL_SHOT).label == CHART
    # Two rows of numbers are a chart only beside a size word.
    assert text_shot(_lines("Taglia3234363840", "80828588909396"), 400, LABEL_PHOTO).label == CHART
    assert text_shot(_lines("1878", "2024"), 400, LABEL_PHOTO).label is None


def test_short_large_words_on_a_label_like_photo_make_a_brand_tag() -> None:
    big = _lines("PARIS", "DORLIN", height=40)
    assert text_shot(big, 400, LABEL_PHOTO) == TextVerdict(
        BRAND, text_shot(big, 400, LABEL_PHOTO).reason
    )
    # The same words on a photo the head does not take for a label, set small, or many of them.
    assert text_shot(big, 400, MODEL_SHOT).label is None
    unsure = HeadView(top="hem", detail_side=True, text_mass=0.38, top_text=BRAND)
    assert text_shot(big, 400, unsure).label is None  # the flat-laid "JEANS" tee
    assert text_shot(_lines("PARIS", "DORLIN", height=10), 400, LABEL_PHOTO).label is None
    many = _lines("WHY", "NOT", "TODAY", "FRIEND", height=40)
    assert text_shot(many, 400, LABEL_PHOTO).label is None
    # The head already names a label: short words do not move it to another one.
    chart = HeadView(top=CHART, detail_side=True, text_mass=0.95, top_text=CHART)
    assert text_shot(_lines("Tale S.", height=40), 400, chart).label is None


def test_no_text_or_only_noise_leaves_the_head() -> None:
    assert text_shot([], 400, LABEL_PHOTO).label is None
    assert text_shot(_lines("100% COTTON", score=0.3), 400, LABEL_PHOTO).label is None
    assert text_shot(_lines("UNSTOPPABLE", "SKILLS"), 400, MODEL_SHOT).label is None


def test_apply_verdict() -> None:
    pred = ShotPrediction("unknown", 0.43, {"near_zoom": 0.43, "wash_tag": 0.19}, "model")
    new = apply_verdict(pred, TextVerdict(WASH, "fibre composition"))
    assert (new.label, new.confidence, new.scores, new.source) == (
        WASH,
        OCR_CONFIDENCE,
        pred.scores,
        "model+ocr",
    )
    sure = ShotPrediction(WASH, 0.97, {WASH: 0.97}, "model")
    assert apply_verdict(sure, TextVerdict(WASH, "x")) is sure
    assert apply_verdict(pred, TextVerdict(None, "no text")) is pred
    assert apply_verdict(pred, None) is pred


# ----------------------------------------------------------------------------- the classifier hook


class FakeOcr:
    """Returns fixed lines for every photo and counts the calls."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts, self.calls = list(texts), 0

    def read(self, image: Image.Image) -> list[OcrLine]:
        self.calls += 1
        return _lines(*self.texts)

    def words(self, image: Image.Image, boxes: Sequence[Box]) -> list[tuple[str, float]]:
        return [(t, 0.9) for t in self.texts]


@pytest.fixture(scope="module")
def head_and_embedder():  # type: ignore[no-untyped-def]
    """A tiny two-class head with a wash_tag class over a random test backbone."""
    from modiste.models.embedder import Embedder
    from modiste.models.registry import create_backbone
    from modiste.models.shot_head import FeatureSpec, combine, fit_head

    torch.manual_seed(0)
    bb = create_backbone("timm:test_efficientnet", pretrained=False)
    bb.cfg = bb.cfg.with_size(64)
    emb = Embedder(bb, pooling="avg", runtime="torch")
    spec = FeatureSpec(backbone="timm:test_efficientnet", pooling="avg", size=64, cues=False)
    ims = [_solid((200, 30, 30), i) for i in range(6)] + [
        _solid((30, 30, 200), i) for i in range(6)
    ]
    head = fit_head(
        combine(emb.predict(ims), None, spec), ["near_front"] * 6 + [WASH] * 6, ["near_front", WASH]
    )
    head.meta = {**spec.as_meta(), "threshold": 0.5}
    return head, emb


def _solid(color: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(color) + rng.integers(-20, 20, (48, 40, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr.astype(np.uint8))


def test_stage_off_is_the_head_alone(head_and_embedder) -> None:  # type: ignore[no-untyped-def]
    head, emb = head_and_embedder
    ims = [_solid((200, 30, 30), 99), _solid((30, 30, 200), 98)]
    plain = ShotClassifier(copy.deepcopy(head), emb).predict(ims)
    ocr = FakeOcr(["100% COTTON"])
    staged = ShotClassifier(copy.deepcopy(head), emb, text_stage=TextShotStage(ocr)).predict(ims)
    assert [p.label for p in plain] == ["near_front", WASH]
    # The sure model shot is never read; the photo the head calls a wash tag is read and kept.
    assert staged == plain and ocr.calls == 1


def test_stage_relabels_a_gated_photo(head_and_embedder) -> None:  # type: ignore[no-untyped-def]
    head, emb = head_and_embedder
    sizes = ["Size S M L", "Chest 86 91 97", "Waist 62 67 72", "Hip 90 95 100"]
    clf = ShotClassifier(copy.deepcopy(head), emb, text_stage=TextShotStage(FakeOcr(sizes)))
    pred = clf.predict([_solid((30, 30, 200), 98)])[0]
    assert (pred.label, pred.source) == (CHART, "model+ocr")
    assert clf.text_stage is not None and clf.text_stage.last_stats["gated"] == 1


def test_an_ocr_failure_keeps_the_head_answer(head_and_embedder) -> None:  # type: ignore[no-untyped-def]
    """A photo the OCR engine chokes on is not lost: the batch goes on with the head's label."""
    from modiste.errors import ModelError

    class Broken(FakeOcr):
        def read(self, image: Image.Image) -> list[OcrLine]:
            raise ModelError("OCR failed: bad input")

    head, emb = head_and_embedder
    ims = [_solid((200, 30, 30), 99), _solid((30, 30, 200), 98)]
    plain = ShotClassifier(copy.deepcopy(head), emb).predict(ims)
    staged = ShotClassifier(copy.deepcopy(head), emb, text_stage=TextShotStage(Broken([])))
    assert staged.predict(ims) == plain


def test_setting_turns_the_stage_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, head_and_embedder
) -> None:  # type: ignore[no-untyped-def]
    """``MODISTE_SHOT_OCR=false`` builds the classifier without the stage."""
    from modiste.config import Settings
    from modiste.gallery import classifier as module

    head, emb = head_and_embedder
    monkeypatch.setattr(module, "load_shot_head", lambda s: (copy.deepcopy(head), "shipped"))
    monkeypatch.setattr("modiste.models.embedder.Embedder.from_settings", lambda *a, **k: emb)
    monkeypatch.setenv("MODISTE_SHOT_OCR", "false")
    assert module.create_shot_classifier(Settings(data_dir=tmp_path)).text_stage is None
    monkeypatch.setenv("MODISTE_SHOT_OCR", "true")
    assert module.create_shot_classifier(Settings(data_dir=tmp_path)).text_stage is not None


class FakeSymbols:
    """A symbol reader that finds ``n`` pictograms on every photo and counts the calls."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, image: Image.Image) -> list[str]:
        self.calls += 1
        return ["wash_30"] * self.n


def test_a_row_of_care_symbols_makes_a_wash_tag_when_the_text_names_none() -> None:
    """A label whose text is unreadable (or in a language we lack) still shows its symbol row."""
    detail = detail_labels(tuple(LABELS))
    close_up = _row(hem=0.47, brand_tag=0.2, wash_tag=0.14, near_zoom=0.19)
    im = [_solid((240, 240, 240), 1)]
    row3 = FakeSymbols(3)
    stage = TextShotStage(FakeOcr(["84798-2043183"]), symbols=row3)
    (verdict,) = stage.refine(im, close_up[None], LABELS, 0.5, detail)
    assert verdict == TextVerdict(WASH, "a row of 3 care symbols") and row3.calls == 1
    # Two symbols are what thread texture can fake: the head's answer stays.
    (verdict,) = TextShotStage(FakeOcr([]), symbols=FakeSymbols(2)).refine(
        im, close_up[None], LABELS, 0.5, detail
    )
    assert verdict is not None and verdict.label is None
    # Text that names a label decides without the symbol reader.
    row3 = FakeSymbols(3)
    (verdict,) = TextShotStage(FakeOcr(["100% COTTON"]), symbols=row3).refine(
        im, close_up[None], LABELS, 0.5, detail
    )
    assert verdict == TextVerdict(WASH, "fibre composition") and row3.calls == 0


def test_symbols_never_overrule_a_brand_label_or_a_whole_garment() -> None:
    detail = detail_labels(tuple(LABELS))
    im = [_solid((240, 240, 240), 1)]
    for row in (
        _row(brand_tag=0.6, hem=0.4),  # the head takes it for a brand label
        _row(near_front=0.5, flat_front=0.3, wash_tag=0.2),  # a whole garment, label-ish
    ):
        symbols = FakeSymbols(5)
        (verdict,) = TextShotStage(FakeOcr([]), symbols=symbols).refine(
            im, row[None], LABELS, 0.5, detail
        )
        assert verdict is not None and verdict.label is None and symbols.calls == 0


def test_a_broken_symbol_model_keeps_the_text_verdict() -> None:
    from modiste.errors import ModelError

    def broken(image: Image.Image) -> list[str]:
        raise ModelError("care-symbol model was trained on other features; retrain it")

    (verdict,) = TextShotStage(FakeOcr([]), symbols=broken).refine(
        [_solid((240, 240, 240), 1)],
        _row(hem=0.6, wash_tag=0.4)[None],
        LABELS,
        0.5,
        detail_labels(tuple(LABELS)),
    )
    assert verdict is not None and verdict.label is None


# ----------------------------------------------------------------------------- the real engine

SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.slow
def test_real_ocr_reads_a_rendered_care_label() -> None:
    """RapidOCR's detector + recogniser on a small label photo, as the stage reads it."""
    pytest.importorskip("rapidocr_onnxruntime")
    if not SANS.is_file():
        pytest.skip(f"font {SANS} not installed")
    font = ImageFont.truetype(str(SANS), 16)
    im = Image.new("RGB", (240, 320), (90, 70, 60))  # a label on dark fabric, phone-photo size
    d = ImageDraw.Draw(im)
    d.rectangle([30, 40, 210, 280], fill="white")
    for i, t in enumerate(["80% COTTON", "20% POLYESTER", "MACHINE WASH 30°C", "MADE IN PORTUGAL"]):
        d.text((40, 60 + i * 50), t, fill="black", font=font)
    lines = TextShotStage().read(im)
    assert all(0 <= ln.box.y1 < ln.box.y2 <= im.height for ln in lines)  # the photo's own pixels
    verdict = text_shot(lines, im.height, LABEL_PHOTO)
    assert verdict == TextVerdict(WASH, "fibre composition"), [ln.text for ln in lines]


def test_small_photos_are_brought_up_for_the_text_detector_at_most_twice() -> None:
    """A label photo of 512 px is read at 960 px; a 224 px thumbnail at 448, not 960; the
    lines come back in the photo's own pixels either way."""
    from modiste.gallery.text_shots import OCR_MAX_UPSCALE, OCR_SIDE

    class Sized(FakeOcr):
        def __init__(self) -> None:
            super().__init__(["100% COTTON"])
            self.sizes: list[tuple[int, int]] = []

        def read(self, image: Image.Image) -> list[OcrLine]:
            self.sizes.append(image.size)
            return [OcrLine("100% COTTON", Box(0, 0, image.width, 20), 0.9)]

    ocr = Sized()
    stage = TextShotStage(ocr)
    label, thumb = Image.new("RGB", (239, 512)), Image.new("RGB", (224, 224))
    stage.read(label)
    lines = stage.read(thumb)
    assert max(ocr.sizes[0]) == OCR_SIDE
    assert ocr.sizes[1] == (round(224 * OCR_MAX_UPSCALE),) * 2
    assert lines[0].box.x2 == pytest.approx(224)
