"""Shared fixtures: real data sets (skipped when absent), a fresh data dir, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from modiste.config import Settings

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets`` next to the checkout; tests using it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip("real data sets not found at ../shared/datasets")
    return DATASETS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """Where tests save pictures a person may want to look at (screenshots, drawings)."""
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    return out
