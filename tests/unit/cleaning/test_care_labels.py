"""Care-label parser: composition and care instructions from clean and OCR-noisy text."""

from __future__ import annotations

import pytest

from modiste.cleaning.care_labels import CareInfo, FibreShare, lines_to_text, parse_care_text
from modiste.domain import Box
from modiste.models.ocr import OcrLine


def comp(text: str) -> list[tuple[str, float, str | None]]:
    return [(s.fibre, s.percent, s.part) for s in parse_care_text(text).composition]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100% COTTON", [("cotton", 100, None)]),
        ("綿 100%", [("cotton", 100, None)]),
        ("綿100％", [("cotton", 100, None)]),
        ("65% polyester 35% cotton", [("polyester", 65, None), ("cotton", 35, None)]),
        ("綿 65% ポリエステル 35%", [("cotton", 65, None), ("polyester", 35, None)]),
        ("棉 95% 氨纶 5%", [("cotton", 95, None), ("elastane", 5, None)]),
        ("95% CO 5% EA", [("cotton", 95, None), ("elastane", 5, None)]),
        ("70% Baumwolle 30% Polyamid", [("cotton", 70, None), ("nylon", 30, None)]),
        ("60% algodón 40% poliéster", [("cotton", 60, None), ("polyester", 40, None)]),
        ("100% puro cotone", [("cotton", 100, None)]),
        ("80% laine 20% cachemire", [("wool", 80, None), ("cashmere", 20, None)]),
        ("100% soie", [("silk", 100, None)]),
        ("55% linen 45% viscose", [("linen", 55, None), ("viscose", 45, None)]),
        ("100% acrylic", [("acrylic", 100, None)]),
        ("100% leather", [("leather", 100, None)]),
        ("90% nylon 10% spandex", [("nylon", 90, None), ("elastane", 10, None)]),
        ("2,5% elastane 97,5% cotton", [("elastane", 2.5, None), ("cotton", 97.5, None)]),
        ("羽毛 10% ダウン 90%", [("feather", 10, None), ("down", 90, None)]),
    ],
)
def test_composition_languages(text: str, expected: list) -> None:
    assert comp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1OO %COTTON",
        "100%C0TT0N",
        "100% COTTOM",
        "100%COTTON",
        "100 % cotton",
        "l00% Cotton",
        "１００％ ＣＯＴＴＯＮ",
        "100%\nCOT-\nTON",
        "100% C O T T O N",
    ],
)
def test_composition_survives_ocr_noise(text: str) -> None:
    assert comp(text) == [("cotton", 100, None)]


def test_letter_read_for_a_digit_before_percent() -> None:
    assert comp("93%POLYESTERZ%SPANDEX") == [("polyester", 93, None), ("elastane", 7, None)]


def test_parts_and_line_breaks() -> None:
    assert comp("Shell: 100% nylon / Lining: 100% polyester") == [
        ("nylon", 100, "shell"),
        ("polyester", 100, "lining"),
    ]
    assert comp("表地 綿100%\n裏地 ポリエステル100%") == [
        ("cotton", 100, "shell"),
        ("polyester", 100, "lining"),
    ]
    assert comp("面料: 100%羊毛 里料: 100%聚酯纤维") == [
        ("wool", 100, "shell"),
        ("polyester", 100, "lining"),
    ]


def test_multilingual_repeat_is_deduplicated() -> None:
    text = "80% Laine 20% Polyamide / 80% Wool 20% Nylon / 80% Wolle 20% Polyamid"
    assert comp(text) == [("wool", 80, None), ("nylon", 20, None)]


def test_no_composition_in_prose() -> None:
    assert comp("Made in Portugal. Size M. 30 % off in store") == []
    assert comp("") == []


@pytest.mark.parametrize(
    ("text", "care"),
    [
        (
            "Machine wash 30°C. Do not bleach. Do not tumble dry. Iron low. Do not dry clean.",
            [
                "machine wash 30",
                "do not bleach",
                "do not tumble dry",
                "iron low",
                "do not dry clean",
            ],
        ),
        (
            "Lavage en machine à 40°C, ne pas blanchir, ne pas sécher en tambour, nettoyage à sec",
            ["machine wash 40", "do not bleach", "do not tumble dry", "dry clean"],
        ),
        (
            "Maschinenwäsche 40°, nicht bleichen, nicht im Trockner trocknen, nicht bügeln",
            ["machine wash 40", "do not bleach", "do not tumble dry", "do not iron"],
        ),
        (
            "Lavar a máquina 30°C. No usar lejía. Planchar a baja temperatura",
            ["machine wash 30", "do not bleach", "iron low"],
        ),
        (
            "Lavare a mano. Non candeggiare. Non stirare. Non lavare a secco",
            ["hand wash", "do not bleach", "do not iron", "do not dry clean"],
        ),
        (
            "液温は40℃を限度とし、洗濯機で洗濯ができる。塩素系漂白剤不可。タンブル乾燥禁止。"
            "アイロン低温。ドライクリーニング不可",
            [
                "machine wash 40",
                "do not bleach",
                "do not tumble dry",
                "iron low",
                "do not dry clean",
            ],
        ),
        (
            "30℃水洗 不可漂白 不可干洗 低温熨烫",
            ["machine wash 30", "do not bleach", "do not dry clean", "iron low"],
        ),
        ("Handwäsche 30°", ["hand wash 30"]),
        ("MACHINE WASH 3O°C", ["machine wash 30"]),
        ("MACHINE WASH 3O%C", ["machine wash 30"]),  # OCR read the degree sign as %
        ("Tumble dry low. Dry flat", ["tumble dry low", "dry flat"]),
        (
            "MACHINEWASH30°C\nDONOTBLEACH\nDONOTTUMBLEDRY",  # RapidOCR drops spaces
            ["machine wash 30", "do not bleach", "do not tumble dry"],
        ),
        (
            "液温30℃限度\n素系漂白剂不可",
            ["machine wash 30", "do not bleach"],
        ),  # OCR's simplified 剂
    ],
)
def test_care_instructions(text: str, care: list[str]) -> None:
    assert parse_care_text(text).care == care


def test_to_dict_is_json_ready() -> None:
    info = parse_care_text("65% polyester 35% cotton\nmachine wash 30")
    d = info.to_dict()
    assert d["composition"][0] == {"fibre": "polyester", "percent": 65, "part": None}
    assert d["care"] == ["machine wash 30"]
    assert d["raw_text"].startswith("65%")
    assert CareInfo().empty and not info.empty
    assert FibreShare("silk", 2.5).percent == 2.5


def test_lines_to_text_reading_order() -> None:
    lines = [
        OcrLine("cotton", Box(60, 10, 120, 30), 0.9),
        OcrLine("100%", Box(5, 12, 50, 30), 0.9),
        OcrLine("wash 30°C", Box(5, 50, 100, 70), 0.9),
    ]
    assert lines_to_text(lines) == "100% cotton\nwash 30°C"
    assert lines_to_text([]) == ""
