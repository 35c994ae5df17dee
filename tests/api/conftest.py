"""A real app over a copy of the demo catalog (imported and stored once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.catalog.api_keys import create_key
from modiste.config import Settings

from .support import build_demo, copy_demo


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-template") / "data"
    build_demo(root)
    return root


@pytest.fixture
def api_settings(demo_template: Path, tmp_path: Path) -> Settings:
    return copy_demo(demo_template, tmp_path / "data")


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    app = create_app(api_settings)
    with TestClient(app) as c:
        yield c
    app.state.db.dispose()


@pytest.fixture
def api_key(client: TestClient) -> str:
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        _, key = create_key(session, "tests", "admin")  # every route; scope tests make theirs
    return key


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}
