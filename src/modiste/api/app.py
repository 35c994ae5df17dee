"""``create_app(settings)``: the FastAPI application (API under /v1, docs at /docs, web UI at /).

Everything the routes use (database, image store, job registry, service adapters) is built
here once and kept on ``app.state``; nothing is built at import time.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modiste import __version__
from modiste.api.adapters import GalleryAdapter, SearchAdapter
from modiste.api.headers import SecurityHeaders
from modiste.api.jobs import JobRegistry
from modiste.api.problems import ApiProblem, document_problems, install_problem_handlers, problem
from modiste.api.ratelimit import RateLimits
from modiste.api.route_policy import RoutePolicy, route_policy
from modiste.api.uploads import max_upload_bytes
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.errors import ModisteError
from modiste.imaging.store import open_image_store

log = logging.getLogger(__name__)
API_PREFIX = "/v1"
# A whole request may carry several photos (gallery sort); each is also capped on its own.
_REQUEST_FILES = 8

DESCRIPTION = """Catalog vision for apparel e-commerce: products, ordered galleries, regulations,
visual and text search, duplicate review and background ingest.

Write and admin routes need an API key (`X-API-Key: mk_...` or `Authorization: Bearer mk_...`),
made with `modiste keys create NAME --scope read|write|admin`; each route's security
requirement names the scope it needs (403 without it). Keys are never read from the query
string. Errors are `application/problem+json` (RFC 9457)."""


class BodySizeLimit:
    """Guard a request before its body is read (issue #16).

    First the route's own key checks, on the headers alone: a missing or invalid key is a 401
    before a byte of the body is taken in (FastAPI reads the body before it resolves the
    route's dependencies). Then the cap: ``limit`` for routes that take photo uploads,
    ``body_limit`` for every other body (JSON, forms). Over it, the answer is 413 at once when
    Content-Length says so, else (chunked uploads) as soon as the bytes received pass it, so
    the app never spools more than the cap.
    """

    def __init__(self, app: ASGIApp, limit: int, body_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.body_limit = limit if body_limit is None else body_limit

    @staticmethod
    def _too_large(limit: int) -> Any:
        return problem(413, f"request body over {limit} bytes", slug="payload-too-large")

    async def _refusal(self, scope: Scope, policy: RoutePolicy) -> Any:
        """The problem answer of the first key check that fails, or None when all pass."""
        request = Request(scope)
        for check in policy.checks:
            try:
                await run_in_threadpool(check, request)  # reads the key table
            except ApiProblem as e:
                handler = scope["app"].exception_handlers.get(ModisteError)
                if handler is not None:  # the same answer the route would give (HTML pages)
                    return await handler(request, e)
                return problem(e.status, str(e), slug=e.slug, headers=e.headers)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = route_policy(scope)
        if policy.reads_body:
            refusal = await self._refusal(scope, policy)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        limit = self.limit if policy.uploads else self.body_limit
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(limit)(scope, receive, send)
            return
        received, over, answered = 0, False, False

        async def capped_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True  # the app sees a client that went away, and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True  # whatever the app makes of the cut body, the answer is 413
                await self._too_large(limit)(scope, receive, send)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not answered:
            await self._too_large(limit)(scope, receive, send)


def create_app(settings: Settings, *, db: Database | None = None, migrate: bool = True) -> FastAPI:
    """Build the app for one data folder. ``migrate`` brings the schema up to date first."""
    from modiste.api.export_jobs import ExportJobs
    from modiste.api.routes import (
        compliance,
        duplicates,
        exports,
        galleries,
        images,
        products,
        search,
        system,
    )
    from modiste.web.docs import DOCS_URL, mount_docs
    from modiste.web.routes import mount_web

    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    db = db or Database(settings)
    if migrate:
        db.migrate()
    app = FastAPI(
        title="Modiste",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: ours is served locally
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,  # API keys only, no OAuth2 flow to return to
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = open_image_store(settings)
    app.state.jobs = JobRegistry(settings, db)
    app.state.exports = ExportJobs(settings, db, app.state.store)
    app.state.gallery = GalleryAdapter(settings)
    app.state.search = SearchAdapter(settings, db)
    app.state.rate_limits = RateLimits(settings)
    install_problem_handlers(app)
    document_problems(app)
    for module in (products, images, galleries, search, duplicates, system, exports, compliance):
        app.include_router(module.router, prefix=API_PREFIX)
    mount_web(app)
    mount_docs(app, app.openapi_url or "/openapi.json")
    app.add_middleware(
        BodySizeLimit,  # type: ignore[arg-type]
        limit=max_upload_bytes(settings) * _REQUEST_FILES,
        body_limit=settings.api_max_body_bytes,
    )
    # Added last, so outermost: every answer gets the headers, a 413 from BodySizeLimit too.
    app.add_middleware(SecurityHeaders, docs_paths=[DOCS_URL])  # type: ignore[arg-type]
    return app


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:
    """Serve with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **kw)
