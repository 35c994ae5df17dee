"""Helpers shared by the API and browser tests: the demo catalog, problem+json checks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-catalog"


def build_demo(data_dir: Path) -> None:
    """Import both demo feeds and run the whole ingest (shots, dedupe, index...) once."""
    settings = Settings(data_dir=data_dir)
    db = Database(settings)
    db.migrate()
    for feed in ("luma-studio.csv", "second-hand-shop.csv"):
        import_feed(db, DEMO / feed)
    run_ingest(settings, db)
    db.dispose()


def copy_demo(template: Path, dest: Path) -> Settings:
    shutil.copytree(template, dest)
    return Settings(data_dir=dest)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    return body
