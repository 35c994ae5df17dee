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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on a loopback port (in this process; no network)."""
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(
    s3_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """A fresh bucket on the moto server, and the AWS_* settings that reach it: (endpoint, name).

    Credentials, region and config files come from the test, never from the developer's
    ~/.aws, and the instance-metadata lookup is off.
    """
    import uuid

    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"modiste-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    yield s3_server, bucket
