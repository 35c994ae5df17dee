"""`modiste backup` / `modiste restore`: a restored folder answers searches like the original."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from modiste.cli._apps import app
from modiste.errors import BackupError


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    """Only the command modules used here (they attach to ``app`` when imported)."""
    import modiste.cli.backup
    import modiste.cli.catalog
    import modiste.cli.search  # noqa: F401


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def cli(runner: CliRunner, data: Path, *args: str) -> str:
    result = runner.invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.fixture
def catalog(runner: CliRunner, tmp_path: Path) -> Path:
    shop = tmp_path / "shop"
    shop.mkdir()
    rows = ["id,title,product_type,price,image_link"]
    for i, (title, kind) in enumerate(
        [("Linen trousers", "Pants"), ("Wide pants", "Pants"), ("Oxford shirt", "Shirts")]
    ):
        buf = io.BytesIO()
        Image.new("RGB", (30, 40), (60 * i, 90, 200)).save(buf, format="JPEG")
        (shop / f"{i}.jpg").write_bytes(buf.getvalue())
        rows.append(f"p{i},{title},{kind},{20 + i}.00 EUR,{i}.jpg")
    (shop / "feed.csv").write_text("\n".join(rows) + "\n")
    data = tmp_path / "data"
    cli(runner, data, "import", str(shop / "feed.csv"), "--seller", "shop")
    cli(runner, data, "ingest", "--stages", "store")
    return data


def test_backup_then_restore_serves_the_same_search(
    runner: CliRunner, tmp_path: Path, catalog: Path
) -> None:
    report = json.loads(cli(runner, catalog, "backup", str(tmp_path / "bk"), "--json"))
    assert (report["images"], report["missing_images"]) == (3, 0)
    restored = tmp_path / "restored"
    assert "restored" in cli(runner, restored, "restore", str(tmp_path / "bk"))

    for query in ("pants", "shirt"):
        before = json.loads(cli(runner, catalog, "search", "text", query, "--json"))
        after = json.loads(cli(runner, restored, "search", "text", query, "--json"))
        assert after == before and before["total"] > 0
    status = json.loads(cli(runner, restored, "status", "--json"))
    original = json.loads(cli(runner, catalog, "status", "--json"))
    assert {**status, "data_dir": ""} == {**original, "data_dir": ""}

    again = runner.invoke(app, ["--data-dir", str(restored), "restore", str(tmp_path / "bk")])
    assert again.exit_code != 0 and isinstance(again.exception, BackupError)
    assert "--force" in str(again.exception)
    assert "restored" in cli(runner, restored, "restore", str(tmp_path / "bk"), "--force")


def test_status_flags_images_without_files_and_ingest_repairs_them(
    runner: CliRunner, tmp_path: Path, catalog: Path
) -> None:
    lost = next(p for p in (catalog / "images").rglob("*") if p.is_file())
    lost.unlink()  # a copy of the folder made before this file was written
    status = json.loads(cli(runner, catalog, "status", "--json"))
    assert status["missing_originals"]["images"] == 1
    assert "1 stored images have no file" in cli(runner, catalog, "status")

    cli(runner, catalog, "ingest", "--stages", "store")
    assert lost.is_file()
    assert json.loads(cli(runner, catalog, "status", "--json"))["missing_originals"]["images"] == 0
