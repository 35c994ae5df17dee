"""Dependency aliases the routes declare: ``SessionDep``, ``StoreDep``, ``SearchDep``...

Everything is built once in :func:`modiste.api.app.create_app` and kept on ``app.state``;
these functions only hand it out, so a test can build an app per data folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from modiste.api.adapters import GalleryAdapter, SearchAdapter
from modiste.api.jobs import JobRegistry
from modiste.api.security import AdminKey, ReadAccess, WriteKey
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.imaging.store import ImageStore

__all__ = [
    "AdminKey",
    "DbDep",
    "GalleryDep",
    "JobsDep",
    "ReadAccess",
    "SearchDep",
    "SessionDep",
    "SettingsDep",
    "StoreDep",
    "WriteKey",
]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with get_db(request).session() as session:
        yield session


def get_store(request: Request) -> ImageStore:
    return request.app.state.store  # type: ignore[no-any-return]


def get_jobs(request: Request) -> JobRegistry:
    return request.app.state.jobs  # type: ignore[no-any-return]


def get_gallery(request: Request) -> GalleryAdapter:
    return request.app.state.gallery  # type: ignore[no-any-return]


def get_search(request: Request) -> SearchAdapter:
    return request.app.state.search  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
# scope="function": commit when the route returns, so a client that reads right after a write
# sees it (the default scope would commit after the response is sent).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
StoreDep = Annotated[ImageStore, Depends(get_store)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]
GalleryDep = Annotated[GalleryAdapter, Depends(get_gallery)]
SearchDep = Annotated[SearchAdapter, Depends(get_search)]
