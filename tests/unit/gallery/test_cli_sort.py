"""`modiste sort` and `modiste regulations` over tiny generated images with a fake classifier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import modiste.cli.sort as sort_cli
from modiste.cli._apps import app
from modiste.config import Settings
from modiste.domain import ShotPrediction

# The fake classifier cannot see file names (it gets pixels), so each label is painted a colour.
PALETTE = {
    "near_front": (220, 30, 30),
    "near_back": (30, 220, 30),
    "wash_tag": (30, 30, 220),
    "packshot": (220, 220, 30),
    "size_chart": (30, 220, 220),
    "unknown": (128, 128, 128),
}


class ColourClassifier:
    def __init__(self) -> None:
        self.calls = 0

    def predict(self, images: Sequence[Image.Image]) -> list[ShotPrediction]:
        self.calls += 1
        out = []
        for img in images:
            px = img.convert("RGB").getpixel((img.width // 2, img.height // 2))
            label = min(
                PALETTE,
                key=lambda k: sum((a - b) ** 2 for a, b in zip(PALETTE[k], px, strict=True)),
            )
            out.append(ShotPrediction(label, 0.9 if label != "unknown" else 0.2, source="fake"))
        return out


def paint(path: Path, label: str) -> None:
    Image.new("RGB", (24, 32), PALETTE[label]).save(path)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    tee = root / "tee-01"
    tee.mkdir(parents=True)
    for name, label in [("10.png", "wash_tag"), ("2.jpg", "near_back"), ("1.png", "size_chart"),
                        ("3.png", "near_front"), ("4.webp", "unknown")]:  # fmt: skip
        paint(tee / name, label)
    (tee / "5.jpg").write_bytes(b"not an image at all")
    (tee / "notes.txt").write_text("ignored")
    bag = root / "bag-02"
    bag.mkdir()
    paint(bag / "a.png", "wash_tag")
    paint(bag / "b.png", "packshot")
    (root / "empty").mkdir()
    return root


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> ColourClassifier:
    classifier = ColourClassifier()
    monkeypatch.setattr(sort_cli, "default_classifier_factory", lambda settings: classifier)
    return classifier


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    args_ = ["--data-dir", str(tmp_path / "data"), *args]
    return CliRunner().invoke(app, args_, env={"COLUMNS": "240"})


def test_sort_folder_of_products_prints_tables_and_writes_json(
    tmp_path: Path, shop: Path, fake: ColourClassifier
) -> None:
    out = tmp_path / "out" / "sorted.json"
    result = invoke(tmp_path, "sort", str(shop), "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "tee-01 - default" in result.output and "bag-02 - default" in result.output
    assert "5.jpg" in result.output  # the bad file is reported
    assert fake.calls == 2  # one batch per product
    report = json.loads(out.read_text())
    assert report["regulation"] == "default"
    assert [p["product"] for p in report["products"]] == ["bag-02", "tee-01"]
    bag, tee = report["products"]
    assert [i["key"] for i in tee["items"]] == ["3.png", "2.jpg", "10.png", "4.webp", "1.png"]
    assert [i["label"] for i in tee["items"]] == [
        "near_front", "near_back", "wash_tag", "unknown", "size_chart"
    ]  # fmt: skip
    assert tee["items"][0]["position"] == 2  # 1, 2, 3 ... 10 in natural order
    assert "not in the order" in tee["items"][3]["reason"]
    assert [e["file"] for e in tee["errors"]] == ["5.jpg"]
    assert [i["label"] for i in bag["items"]] == ["packshot", "wash_tag"]  # no model shot
    assert "no model shot" in bag["items"][0]["reason"]


def test_sort_single_product_with_strict_regulation_and_category(
    tmp_path: Path, shop: Path, fake: ColourClassifier
) -> None:
    out = tmp_path / "one.json"
    result = invoke(
        tmp_path, "sort", str(shop / "tee-01"), "-r", "marketplace-strict", "--json", str(out)
    )
    assert result.exit_code == 0, result.output
    (tee,) = json.loads(out.read_text())["products"]
    assert [i["label"] for i in tee["items"]] == ["near_front", "near_back", "wash_tag"]
    assert {e["label"] for e in tee["excluded"]} == {"size_chart", "unknown"}
    assert tee["missing"] == []

    result = invoke(tmp_path, "sort", str(shop / "bag-02"), "-r", "marketplace-strict")
    assert result.exit_code == 0, result.output
    assert "missing:" in result.output and "no near_front photo" in result.output
    result = invoke(tmp_path, "sort", str(shop / "bag-02"), "-r", "marketplace-strict",
                    "-c", "Gear/Bags", "--json", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    (bag,) = json.loads(out.read_text())["products"]
    assert bag["override"] == "Gear/Bags"  # bags need a packshot instead of a model shot
    assert bag["missing"] == []
    assert [i["label"] for i in bag["items"]] == ["packshot", "wash_tag"]


def test_run_sort_takes_an_injected_classifier(tmp_path: Path, shop: Path) -> None:
    from modiste.cli._apps import CliState

    st = CliState(settings=Settings(data_dir=tmp_path / "data"))
    results = sort_cli.run_sort(
        st, shop / "bag-02", regulation_ref=None, classifier_factory=lambda s: ColourClassifier()
    )
    assert [o.item.key for o in results[0].gallery.items] == ["b.png", "a.png"]


def test_sort_errors_are_one_line(tmp_path: Path, shop: Path, fake: ColourClassifier) -> None:
    result = invoke(tmp_path, "sort", str(shop / "empty"))
    assert result.exit_code != 0 and "no images under" in str(result.exception)
    result = invoke(tmp_path, "sort", str(shop), "-r", "no-such-regulation")
    assert result.exit_code != 0 and "known names" in str(result.exception)


def test_regulations_list_show_taxonomy(tmp_path: Path) -> None:
    listed = invoke(tmp_path, "regulations", "list")
    assert listed.exit_code == 0, listed.output
    assert "marketplace-strict" in listed.output and "flat-first" in listed.output
    shown = invoke(tmp_path, "regulations", "show", "default")
    assert shown.exit_code == 0 and "pin_last" in shown.output
    effective = invoke(tmp_path, "regulations", "show", "default", "-c", "Gear/Bags/Totes")
    assert effective.exit_code == 0 and "override 'Gear/Bags'" in effective.output
    assert "pin_first: [packshot]" in effective.output
    tax = invoke(tmp_path, "regulations", "taxonomy")
    assert tax.exit_code == 0 and "size_chart" in tax.output and "study" in tax.output


def test_sort_finds_saved_regulations_and_the_configured_one(
    tmp_path: Path, shop: Path, fake: ColourClassifier
) -> None:
    saved = tmp_path / "data" / "regulations"
    saved.mkdir(parents=True)  # where PUT /v1/regulations/{name} saves them
    (saved / "backs.yaml").write_text("name: backs\norder: [near_back, near_front]\n")
    out = tmp_path / "r.json"
    result = invoke(tmp_path, "sort", str(shop / "tee-01"), "-r", "backs", "--json", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["regulation"] == "backs"
    assert report["products"][0]["items"][0]["label"] == "near_back"
    listed = invoke(tmp_path, "regulations", "list")
    assert "backs" in listed.output
    env = {"COLUMNS": "240", "MODISTE_REGULATION": "backs"}
    args = ["--data-dir", str(tmp_path / "data"), "sort", str(shop / "tee-01"), "--json", str(out)]
    assert CliRunner().invoke(app, args, env=env).exit_code == 0
    assert json.loads(out.read_text())["regulation"] == "backs"
