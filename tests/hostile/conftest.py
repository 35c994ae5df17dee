"""Fixtures for the hostile-input suite: a loopback HTTP server that misbehaves on request, a
guard that nothing but loopback is ever contacted, and a catalog holding one product whose
state every test compares before and after the attack."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import get_product, product_dict
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

from .corpus import _photo, _save
from .server import HostileServer

KEEP_SELLER = "keeper"
KEEP_ID = "keep-1"


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


class Keeper:
    """A catalog with one stored product; :meth:`assert_intact` says it survived unchanged."""

    def __init__(self, root: Path) -> None:
        self.settings = Settings(data_dir=root / "data")
        self.db = Database(self.settings)
        self.db.migrate()
        folder = root / "keep-feed"
        folder.mkdir()
        (folder / "front.png").write_bytes(_save(_photo(), "PNG"))
        (folder / "feed.csv").write_text(
            f"id,title,price,seller,image_link\n{KEEP_ID},Kept coat,49.00,{KEEP_SELLER},front.png\n"
        )
        report = import_feed(self.db, folder / "feed.csv")
        assert report.created == 1, report.as_dict()
        run_ingest(self.settings, self.db, stages=["store"])
        self.before = self.snapshot()
        assert [i["status"] for i in self.before["images"]] == ["stored"]

    def snapshot(self) -> dict[str, Any]:
        with self.db.session() as session:
            data = product_dict(get_product(session, KEEP_ID, KEEP_SELLER))
        data.pop("updated_at", None)
        return data

    def assert_intact(self) -> None:
        assert self.snapshot() == self.before
        with self.db.session() as session:
            (ok,) = session.connection().exec_driver_sql("PRAGMA integrity_check").one()
        assert ok == "ok"
        for image in self.before["images"]:
            digest = image.get("content_hash")
            if digest:
                assert (self.settings.images_dir / digest[:2] / digest[2:4] / digest).is_file()


@pytest.fixture
def keeper(tmp_path: Path) -> Iterator[Keeper]:
    k = Keeper(tmp_path)
    yield k
    k.db.dispose()
