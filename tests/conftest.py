"""Shared fixtures: real data sets (skipped when absent), a fresh data dir, settings."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modiste.catalog.db import Database
from modiste.config import Settings

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _hermetic_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test sees the developer's settings or ./modiste-data (e.g. after ``make demo``).

    Every ``MODISTE_*`` variable but the test suite's own (``MODISTE_TEST_*``) is removed, and the
    default data folder points at an empty temporary one, so a command run without
    ``--data-dir`` cannot find a real catalog.
    """
    for name in list(os.environ):
        if name.startswith("MODISTE_") and not name.startswith("MODISTE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MODISTE_DATA_DIR", str(tmp_path_factory.mktemp("default-data") / "data"))
    yield


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets`` next to the checkout; tests using it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip("real data sets not found at ../shared/datasets")
    return DATASETS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated catalog in the test's own data folder."""
    database = Database(settings)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket tries to connect to; anything but loopback fails the test."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        attempts.append(str(host))
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert ipaddress.ip_address(str(host).split("%")[0]).is_loopback, host
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """Where tests save pictures a person may want to look at (screenshots, drawings)."""
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    return out
