"""`modiste export` over generated product folders and a tiny catalog, with a fake classifier."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import modiste.cli.export as export_cli
import modiste.cli.sort as sort_cli
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.cli._apps import app
from modiste.cli.app import _load_commands
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.errors import ConfigError
from modiste.imaging.decode import decode_image
from modiste.pipeline.ingest import run_ingest

COLOURS = {"near_front": (200, 30, 30), "near_back": (30, 160, 30)}
PROFILE = """
name: testshop
source: https://example.com/guidelines
regulation: default
rules:
  - {id: main-white, kind: background, applies_to: main, color: [255, 255, 255], tolerance: 8}
  - {id: main-fill, kind: fill, applies_to: main, min: 0.85}
  - {id: ratio, kind: aspect, ratio: "1:1.25", tolerance: 0.02}
  - {id: size, kind: min_size, long_side: 200}
  - {id: fmt, kind: format, allowed: [jpeg]}
"""


class CentreClassifier:
    """Names a photo by the colour at its centre (the fake cannot see file names)."""

    def predict(self, images: Sequence[Image.Image]) -> list[ShotPrediction]:
        out = []
        for img in images:
            px = tuple(img.convert("RGB").getpixel((img.width // 2, img.height // 2)))  # type: ignore[arg-type]
            label = min(
                COLOURS,
                key=lambda k: sum((a - b) ** 2 for a, b in zip(COLOURS[k], px, strict=True)),
            )
            out.append(ShotPrediction(label, 0.9, source="fake"))
        return out


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    _load_commands()


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sort_cli, "default_classifier_factory", lambda s: CentreClassifier())
    monkeypatch.setattr(export_cli, "default_ocr", lambda: None)  # no text rule here anyway


def _on_white(
    path: Path, size: tuple[int, int], box: tuple[int, int, int, int], label: str
) -> None:
    im = Image.new("RGB", size, (255, 255, 255))
    im.paste(COLOURS[label], box)
    im.save(path)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    tee = root / "=tee-01"  # a name a spreadsheet would run: the feed neutralises it
    tee.mkdir(parents=True)
    _on_white(tee / "1.png", (400, 400), (120, 100, 280, 300), "near_front")  # small in the frame
    _on_white(tee / "2.png", (300, 300), (50, 50, 250, 250), "near_back")  # square: pad
    (tee / "3.jpg").write_bytes(b"not a photo")
    scene = root / "scene-02"
    scene.mkdir()
    rng = np.random.default_rng(1)
    street = rng.integers(0, 255, size=(150, 150, 3), dtype=np.uint8)
    street[60:90, 60:90] = COLOURS["near_front"]
    Image.fromarray(street).save(scene / "street.png")
    (tmp_path / "testshop.yaml").write_text(PROFILE, encoding="utf-8")
    return root


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"COLUMNS": "240"})
    return runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "export", *args])


def test_exports_folders_in_order_with_fixes_feed_and_report(tmp_path: Path, shop: Path) -> None:
    out = tmp_path / "out"
    result = invoke(tmp_path, str(shop), "--profile", str(tmp_path / "testshop.yaml"),
                    "--out", str(out), "--base-url", "https://cdn.example.com/shop")  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    assert "0 of 2 products ready" in result.stdout
    table = result.stdout.split("needs a person for testshop", 1)[1]
    assert table.index("scene-02") < table.index("=tee-01")  # most things first
    assert "new photo: 3.jpg" in table
    report = json.loads((out / "report.json").read_text())
    assert report["profile"] == "testshop"
    tee, scene = report["products"]
    assert tee["folder"] == "tee-01"
    assert [i["file"] for i in tee["images"]] == ["tee-01/01-1.jpg", "tee-01/02-2.jpg"]
    front, back = tee["images"]
    assert {f["rule"] for f in front["fixes"]} == {"fill", "aspect", "format"}
    assert front["needs_person"] == []
    assert abs(front["size"][0] / front["size"][1] - 0.8) < 0.016
    assert {f["rule"] for f in back["fixes"]} == {"aspect", "format"}
    assert decode_image(out / "tee-01" / "02-2.jpg").format == "JPEG"
    assert tee["errors"][0]["image"] == "3.jpg"  # unreadable: reported, the rest exported
    assert [n["action"] for n in tee["needs_person"]] == ["new photo"]
    # the street scene: nothing can be padded or trimmed; a person decides
    assert scene["images"][0]["fixes"] == [{"rule": "format", "action": "converted PNG to JPEG"}]
    needs = {n["rule"]: n["action"] for n in scene["images"][0]["needs_person"]}
    assert needs["main-white"] == "retouch" and needs["size"] == "new photo"
    assert "ratio" in needs
    rows = list(csv.DictReader(io.StringIO((out / "feed.tsv").read_text()), delimiter="\t"))
    assert rows[0]["id"] == "'=tee-01"
    assert rows[0]["image_link"] == "https://cdn.example.com/shop/tee-01/01-1.jpg"
    assert rows[0]["additional_image_link"] == "https://cdn.example.com/shop/tee-01/02-2.jpg"
    assert rows[1]["image_link"].endswith("/scene-02/01-street.jpg")


def test_refuses_a_folder_with_files_and_a_base_url_that_is_not_http(
    tmp_path: Path, shop: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    profile = str(tmp_path / "testshop.yaml")
    result = invoke(tmp_path, str(shop), "--profile", profile, "--out", str(out))
    assert isinstance(result.exception, ConfigError) and "not empty" in str(result.exception)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    bad = invoke(tmp_path, str(shop), "--profile", profile, "--out", str(out / "x"),
                 "--base-url", "javascript:alert(1)")  # fmt: skip
    assert bad.exit_code == 2 and "http(s)" in bad.output
    forced = invoke(tmp_path, str(shop), "--profile", profile, "--out", str(out), "--force")
    assert forced.exit_code == 0 and (out / "keep.txt").read_text() == "mine"
    assert (out / "feed.tsv").exists()


def test_exports_the_catalog_with_its_stored_shot_labels(tmp_path: Path, shop: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings)
    db.migrate()
    feed = shop / "feed.csv"
    feed.write_text(
        "id,title,link,image_link,additional_image_link\n"
        "T1,Red tee,https://shop.example/t1,=tee-01/2.png,=tee-01/1.png\n",
        encoding="utf-8",
    )
    import_feed(db, feed)
    run_ingest(settings, db, stages=["store"])
    db.dispose()
    out = tmp_path / "out"
    result = invoke(tmp_path, "--profile", str(tmp_path / "testshop.yaml"), "--out", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads((out / "report.json").read_text())
    (product,) = report["products"]
    assert product["product"] == "T1" and len(product["images"]) == 2
    rows = list(csv.DictReader(io.StringIO((out / "feed.tsv").read_text()), delimiter="\t"))
    assert rows[0]["link"] == "https://shop.example/t1"
    assert rows[0]["image_link"].startswith("T1/01-")  # no --base-url: relative links
    assert (out / rows[0]["image_link"]).is_file()
