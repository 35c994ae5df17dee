"""The catalog commands through Typer's CliRunner, and their errors through the real entry point."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from modiste.cli._apps import app
from modiste.cli.app import _load_commands, main

JP = "「メンズ 長袖 シャツ」"


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    _load_commands()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})  # wide enough that tables don't truncate titles


def _jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, format="JPEG")
    path.write_bytes(buf.getvalue())


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    _jpeg(tmp_path / "shop" / "a1.jpg", (200, 0, 0))
    _jpeg(tmp_path / "shop" / "a2.jpg", (0, 200, 0))
    _jpeg(tmp_path / "shop" / "b1.jpg", (0, 0, 200))
    (tmp_path / "shop" / "broken.jpg").write_text("<html>oops</html>")
    path = tmp_path / "shop" / "feed.csv"
    path.write_text(
        "id,title,product_type,gender,price,image_link,additional_image_link\n"
        f"A,{JP},Shirts,male,15.00 USD,a1.jpg,a2.jpg\n"
        "B,Linen trousers,Pants,female,EUR 12,b1.jpg,broken.jpg\n"
        "C,,Pants,,,b1.jpg,\n",
        encoding="utf-8",
    )
    return path


def cli(runner: CliRunner, data: Path, *args: str) -> str:
    result = runner.invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_init_import_ingest_status_products(runner: CliRunner, tmp_path: Path, feed: Path) -> None:
    data = tmp_path / "data"
    assert "catalog ready" in cli(runner, data, "init")
    assert "catalog ready" in cli(runner, data, "init")  # safe to run again
    report = json.loads(cli(runner, data, "import", str(feed), "--json", "--seller", "shop"))
    assert (report["created"], report["unchanged"], report["images_added"]) == (2, 0, 4)
    assert report["errors"] == [{"line": 4, "id": "C", "reason": "missing title"}]
    again = json.loads(cli(runner, data, "import", str(feed), "--json", "--seller", "shop"))
    assert (again["created"], again["unchanged"]) == (0, 2)

    out = cli(runner, data, "ingest", "--stages", "store")
    assert "store" in out
    status = json.loads(cli(runner, data, "status", "--json"))
    assert status["products"] == 2 and status["sellers"] == 1
    assert status["images"] == {"total": 4, "pending": 0, "stored": 3, "failed": 1}
    assert status["failures_by_reason"] == {"not an image": 1}
    assert status["stages"]["store:done"] == 3
    assert "3 stored" in cli(runner, data, "status")

    listing = json.loads(cli(runner, data, "products", "list", "--json"))
    assert listing["total"] == 2
    assert [p["external_id"] for p in listing["items"]] == ["A", "B"]
    assert listing["items"][0]["title"] == JP
    women = json.loads(cli(runner, data, "products", "list", "--json", "--gender", "female"))
    assert [p["external_id"] for p in women["items"]] == ["B"]
    assert JP in cli(runner, data, "products", "list")

    shown = json.loads(cli(runner, data, "products", "show", "A", "--json"))
    assert shown["title"] == JP and shown["price"] == 15.0 and shown["currency"] == "USD"
    assert [i["status"] for i in shown["images"]] == ["stored", "stored"]
    assert (shown["images"][0]["width"], shown["images"][0]["height"]) == (40, 30)
    text = cli(runner, data, "products", "show", "B", "--seller", "shop")
    assert "Linen trousers" in text and "failed" in text


def test_import_with_ingest_flag(runner: CliRunner, tmp_path: Path, feed: Path) -> None:
    data = tmp_path / "data"
    out = runner.invoke(app, ["--data-dir", str(data), "import", str(feed), "--ingest"])
    assert out.exit_code == 0, out.output
    assert "2 new" in out.stdout
    assert "line 4 (id C): missing title" in out.stderr
    assert "failed at store" in out.stderr
    status = json.loads(cli(runner, data, "status", "--json"))
    assert status["images"]["stored"] == 3


def test_feed_from_gallery(runner: CliRunner, tmp_path: Path) -> None:
    _jpeg(tmp_path / "g" / "images" / "x0.jpg", (1, 1, 1))
    _jpeg(tmp_path / "g" / "images" / "x1.jpg", (2, 2, 2))
    gallery = tmp_path / "g" / "gallery.csv"
    gallery.write_text(
        "product_id,image_path,title,category\nx,images/x0.jpg,Tee,Tops\nx,images/x1.jpg,Tee,Tops\n"
    )
    out_feed = tmp_path / "feed.csv"
    assert "wrote 1 products" in cli(
        runner, tmp_path / "data", "feed-from-gallery", str(gallery), "--out", str(out_feed)
    )
    report = json.loads(cli(runner, tmp_path / "data", "import", str(out_feed), "--json"))
    assert (report["created"], report["images_added"]) == (1, 2)


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["modiste", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code or 0)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["status"], "no catalog at"),
        (["products", "list"], "no catalog at"),
        (["import", "{tmp}/missing.csv"], "no such feed file or folder"),
        (["ingest", "--stages", "nope"], "unknown stage(s) nope"),
    ],
)
def test_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: list[str],
    expected: str,
) -> None:
    data = tmp_path / "a-rather-long-folder-name-so-that-the-message-is-wider-than-80-columns"
    argv = ["--data-dir", str(data), *(a.format(tmp=tmp_path) for a in args)]
    assert run_main(monkeypatch, *argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert expected in err and "Traceback" not in err
    if args[0] in ("status", "products"):
        assert not (data / "modiste.db").exists()  # reading never creates a catalog


def test_unknown_product_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    assert run_main(monkeypatch, "--data-dir", data, "init") == 0
    capsys.readouterr()
    assert run_main(monkeypatch, "--data-dir", data, "products", "show", "nope") == 1
    err = capsys.readouterr().err
    assert err == "error: no product 'nope'\n"
