"""The store stage's memory: decodes share the configured pixel budget, and each original is
written by the fetch worker that fetched it instead of being kept for the whole chunk."""

from __future__ import annotations

import threading

import pytest

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.config import Settings
from modiste.imaging import decode as decode_mod
from modiste.imaging.decode import PixelBudget
from modiste.imaging.store import ImageStore
from modiste.pipeline.ingest import run_ingest


def test_store_stage_sizes_the_process_decode_budget(
    settings: Settings, db: Database, make_feed, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(decode_mod, "_budget", PixelBudget(1))
    import_feed(db, make_feed(2))
    run_ingest(settings.model_copy(update={"decode_budget_pixels": 4321}), db, stages=["store"])
    assert decode_mod._budget.pixels == 4321
    assert decode_mod._budget.in_use == 0


def test_originals_are_stored_by_the_fetch_workers(
    settings: Settings, db: Database, make_feed, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    threads: list[str] = []
    real_put = ImageStore.put

    def put(self: ImageStore, data: bytes) -> str:
        threads.append(threading.current_thread().name)
        return real_put(self, data)

    monkeypatch.setattr(ImageStore, "put", put)
    import_feed(db, make_feed(3))
    summary = run_ingest(settings, db, stages=["store"])
    assert summary.stages[0].done == 6 and len(threads) == 6
    assert threading.main_thread().name not in threads
