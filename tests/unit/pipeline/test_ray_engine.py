"""``--engine ray``: the local engine's catalog, from a local Ray instance of 2 workers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.catalog.schema import ImageRow, ProductRow, ShotRow
from modiste.config import Settings
from modiste.errors import ConfigError
from modiste.pipeline.ingest import run_ingest

ALL_HITS: dict[str, Any] = {"search_min_score_photo": -1.0}


def _catalog(settings: Settings, feed: Path, engine: str) -> dict[str, Any]:
    """Ingest ``feed`` with ``engine``; what a person would compare: status, shots, search."""
    from modiste.search.visual import create_search_service

    db = Database(settings)
    db.migrate()
    import_feed(db, feed)
    summary = run_ingest(settings, db, engine=engine)
    with db.session() as s:
        status = catalog_status(s)
        shots = dict(s.execute(select(ImageRow.source, ShotRow.label).join(ShotRow)).tuples().all())
        products = dict(s.execute(select(ProductRow.id, ProductRow.external_id)).tuples().all())
    service = create_search_service(settings, db)
    found = {}
    for photo in sorted((feed.parent / "img").glob("*.jpg")):
        image = Image.open(io.BytesIO(photo.read_bytes())).convert("RGB")
        found[photo.name] = [
            [products[h.product_id] for h in result.hits]
            for result in service.search_image(image, None, k=4)
        ]
    service.index.close()
    db.dispose()
    return {
        "stages": {s.name: (s.done, s.failed, s.skipped) for s in summary.stages},
        "status": json.loads(json.dumps(status, default=str)),
        "shots": shots,
        "search": found,
    }


@pytest.mark.slow
def test_ray_engine_gives_the_local_engines_catalog(tmp_path: Path, make_feed) -> None:  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray")
    feed = make_feed(4)
    # Made-up photos read as close-ups (material, print), which the default policy keeps out of
    # search; index every class so that both engines' search results are compared.
    from modiste.gallery.taxonomy import load_taxonomy

    policy = tmp_path / "policy.yaml"
    classes = [*load_taxonomy().labels, "unknown"]
    policy.write_text(
        "classes:\n" + "".join(f"  {c}: {{gallery: true, search: true}}\n" for c in classes)
    )
    every = {**ALL_HITS, "cleaning_policy": policy}
    # every hit offered (no relevance floor): made-up photos match poorly, yet the same ones
    local = _catalog(Settings(data_dir=tmp_path / "local", **every), feed, "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ray_settings = Settings(data_dir=tmp_path / "ray", ray_actors=2, **every)
        remote = _catalog(ray_settings, feed, "ray")
        # a second run has nothing left to do (resumable like the local engine)
        again = run_ingest(ray_settings, Database(ray_settings), engine="ray")
    finally:
        ray.shutdown()
    assert remote["stages"] == local["stages"]
    assert remote["stages"]["shots"] == (8, 0, 0)  # 8 photos (two share their bytes)
    assert sum(remote["stages"]["embed"]) == 8
    assert remote["status"] == local["status"]
    assert remote["shots"] == local["shots"] and len(local["shots"]) == 7  # 7 distinct links
    assert remote["search"] == local["search"]
    assert all(hits for results in local["search"].values() for hits in results)
    rerun = {s.name: (s.done, s.failed) for s in again.stages}
    assert all(rerun[name] == (0, 0) for name in ("store", "shots", "dedupe", "embed")), rerun


def test_unknown_engine_is_refused(settings: Settings, db: Database) -> None:
    with pytest.raises(ConfigError, match="unknown ingest engine 'spark'"):
        run_ingest(settings, db, engine="spark")


def test_the_cli_takes_local_or_ray_only(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modiste.cli._apps import app
    from modiste.cli.app import _load_commands

    _load_commands()
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "ingest", "--engine", "legacy"])
    assert result.exit_code == 2
    assert "use local or ray" in result.output
    ok = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "ingest", "--engine", "local"])
    assert ok.exit_code == 0, ok.output
