"""`modiste check` on product folders and on a tiny catalog, with a fake shot classifier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import modiste.cli.check as check_cli
import modiste.cli.sort as sort_cli
from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.schema import ComplianceRow
from modiste.cli._apps import app
from modiste.cli.app import _load_commands
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.errors import NotFoundError
from modiste.pipeline.ingest import run_ingest

PROFILE = """
name: testshop
source: https://example.com/guidelines
regulation: default
rules:
  - {id: main-white, kind: background, applies_to: main, color: [255, 255, 255], tolerance: 8}
  - {id: main-fill, kind: fill, applies_to: main, min: 0.85}
  - {id: fmt, kind: format, allowed: [png]}
  - {id: dup, kind: duplicate}
  - {id: lead, kind: main_shot, allowed: [near_front]}
"""


class FrontClassifier:
    def predict(self, images: Sequence[Image.Image]) -> list[ShotPrediction]:
        return [ShotPrediction("near_front", 0.9, source="fake") for _ in images]


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    _load_commands()


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sort_cli, "default_classifier_factory", lambda s: FrontClassifier())
    monkeypatch.setattr(check_cli, "default_ocr", lambda: None)


def _packshot(path: Path, box: tuple[int, int, int, int], bg: tuple[int, int, int]) -> None:
    im = Image.new("RGB", (400, 400), bg)
    im.paste((180, 30, 30), box)
    im.save(path)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    good, bad = root / "good-01", root / "bad-02"
    good.mkdir(parents=True)
    bad.mkdir()
    _packshot(good / "1.png", (20, 10, 380, 390), (255, 255, 255))
    _packshot(bad / "1.png", (150, 150, 250, 250), (200, 200, 205))
    (bad / "2.png").write_bytes((bad / "1.png").read_bytes())  # the same photo twice
    (bad / "3.jpg").write_bytes(b"not a photo")
    (tmp_path / "testshop.yaml").write_text(PROFILE, encoding="utf-8")
    return root


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    runner = CliRunner(env={"COLUMNS": "200"})
    return runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "check", *args])


def test_checks_folders_writes_json_and_exits_0(tmp_path: Path, shop: Path) -> None:
    out = tmp_path / "report.json"
    profile = str(tmp_path / "testshop.yaml")
    result = invoke(tmp_path, str(shop), "--profile", profile, "--json", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    assert "2 products checked against testshop: 1 pass, 1 with violations" in result.stdout
    assert "main-white" in result.stdout and "3.jpg" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["profile"] == "testshop"
    by_name = {p["product"]: p for p in doc["products"]}
    assert by_name["good-01"]["violations"] == []
    assert [i["violations"] for i in by_name["good-01"]["images"]] == [[]]
    bad = by_name["bad-02"]
    rules = {i["image"]: [v["rule"] for v in i["violations"]] for i in bad["images"]}
    assert rules == {"1.png": ["main-white", "main-fill"], "2.png": ["dup"]}
    assert bad["errors"][0]["image"] == "3.jpg"
    v = bad["images"][0]["violations"][0]
    assert set(v) == {"rule", "message", "measured", "limit"}


def test_unknown_profile_is_an_error(tmp_path: Path, shop: Path) -> None:
    result = invoke(tmp_path, str(shop), "--profile", "no-such-channel")
    assert isinstance(result.exception, NotFoundError)
    assert "amazon" in str(result.exception)  # the known names are listed


def test_checks_the_catalog_and_stores_the_results(tmp_path: Path, shop: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings)
    db.migrate()
    feed = shop / "feed.csv"
    feed.write_text(
        "id,title,image_link,additional_image_link\n"
        "G1,Good tee,good-01/1.png,\n"
        "B2,Bad tee,bad-02/1.png,bad-02/2.png\n",
        encoding="utf-8",
    )
    import_feed(db, feed)
    run_ingest(settings, db, stages=["store"])
    out = tmp_path / "catalog.json"
    result = invoke(tmp_path, "--profile", str(tmp_path / "testshop.yaml"), "--json", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    doc = json.loads(out.read_text())
    by_ext = {p["external_id"]: p for p in doc["products"]}
    assert by_ext["G1"]["images"][0]["violations"] == []
    # no shot label is stored (only the store stage ran): the main shot rule says so
    assert [v["rule"] for v in by_ext["B2"]["violations"]] == ["lead"]
    assert [len(i["violations"]) for i in by_ext["B2"]["images"]] == [2, 1]
    with db.session() as session:
        rows = {r.product_id: r.violations for r in session.query(ComplianceRow)}
    assert sorted(rows.values()) == [1, 4]
    db.dispose()


def test_profiles_lists_shipped_and_saved(tmp_path: Path) -> None:
    saved = tmp_path / "data" / "profiles"
    saved.mkdir(parents=True)
    (saved / "ourshop.yaml").write_text("rules: []\nsource: contract\n", encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["--data-dir", str(tmp_path / "data"), "profiles"]
    )
    assert result.exit_code == 0, result.output
    for name in ("amazon", "zalando", "aboutyou", "ajio", "zalora", "ourshop"):
        assert name in result.stdout
