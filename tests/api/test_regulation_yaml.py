"""Hostile regulation YAML through PUT /v1/regulations/{name}: a clear problem, never a 500.

Before, each of these escaped PyYAML as another error than ``YAMLError`` (TypeError for an
unhashable key, RecursionError for deep nesting, ValueError past Python's digit limit) and the
API answered 500. They are refused like any regulation that does not parse: 400, as documented.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.catalog.api_keys import create_key
from modiste.catalog.db import Database
from modiste.config import Settings

from .support import assert_problem


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app over an empty catalog (regulations need no photos) and an admin key."""
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings)
    db.migrate()
    with db.session() as session:
        _, key = create_key(session, "tests", "admin")
    db.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, {"X-API-Key": key}
    app.state.db.dispose()


@pytest.mark.parametrize(
    ("yaml", "says"),
    [
        ("? [a, b]\n: 1\n", "a key must be a plain value"),
        ("? !!set {a, b}\n", "a key must be a plain value"),
        ("? {a: 1}\n: 2\n", "a key must be a plain value"),
        ("[" * 20_000, "nested too deeply"),
        ("{a: " * 20_000, "nested too deeply"),
        ("order: [back]\nmax_images: " + "9" * 5000 + "\n", "a number has too many digits"),
        ("order: [back]\nmax_images: " + "9" * 4000 + "\n", "up to 10000"),
        ("order: [back]\n1: x\nnull: y\nfoo: z\n", "unknown key(s) 1, None, foo"),
    ],
    ids=str.split("list-key set-key map-key deep-list deep-map 5000-digits 4000-digits mixed-keys"),
)
def test_hostile_yaml_is_a_clear_400(
    admin: tuple[TestClient, dict[str, str]], yaml: str, says: str
) -> None:
    client, auth = admin
    response = client.put("/v1/regulations/x", json={"yaml": yaml}, headers=auth)
    detail = assert_problem(response, 400)["detail"]
    assert says in detail
    assert "Traceback" not in detail and "site-packages" not in detail
    # Nothing was saved, and the service still answers.
    assert client.get("/v1/regulations/x").status_code == 404
    assert client.get("/v1/health").status_code == 200
