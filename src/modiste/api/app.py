"""``create_app(settings)``: the FastAPI application (API under /v1, docs at /docs, web UI at /).

Everything the routes use (database, image store, job registry, service adapters) is built
here once and kept on ``app.state``; nothing is built at import time.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modiste import __version__
from modiste.api.adapters import GalleryAdapter, SearchAdapter
from modiste.api.headers import SecurityHeaders
from modiste.api.jobs import JobRegistry
from modiste.api.problems import document_problems, install_problem_handlers, problem
from modiste.api.ratelimit import RateLimits
from modiste.api.uploads import max_upload_bytes
from modiste.catalog.db import Database
from modiste.config import Settings
from modiste.imaging.store import ImageStore

log = logging.getLogger(__name__)
API_PREFIX = "/v1"
# A whole request may carry several photos (gallery sort); each is also capped on its own.
_REQUEST_FILES = 8

DESCRIPTION = """Catalog vision for apparel e-commerce: products, ordered galleries, regulations,
visual and text search, duplicate review and background ingest.

Write and admin routes need an API key (`X-API-Key: mk_...` or `Authorization: Bearer mk_...`),
made with `modiste keys create NAME`. Errors are `application/problem+json` (RFC 9457)."""


class BodySizeLimit:
    """Refuse a request body over the cap: at once when Content-Length says so, else (chunked
    uploads) as soon as the bytes received pass it, so the app never spools more than the cap.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self) -> Any:
        return problem(413, f"request body over {self.limit} bytes", slug="payload-too-large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large()(scope, receive, send)
            return
        received, over, answered = 0, False, False

        async def capped_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True  # the app sees a client that went away, and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True  # whatever the app makes of the cut body, the answer is 413
                await self._too_large()(scope, receive, send)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not answered:
            await self._too_large()(scope, receive, send)


def create_app(settings: Settings, *, db: Database | None = None, migrate: bool = True) -> FastAPI:
    """Build the app for one data folder. ``migrate`` brings the schema up to date first."""
    from modiste.api.routes import duplicates, galleries, images, products, search, system
    from modiste.web.routes import mount_web

    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    db = db or Database(settings)
    if migrate:
        db.migrate()
    app = FastAPI(
        title="Modiste",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = ImageStore(settings.images_dir)
    app.state.jobs = JobRegistry(settings, db)
    app.state.gallery = GalleryAdapter(settings)
    app.state.search = SearchAdapter(settings, db)
    app.state.rate_limits = RateLimits(settings)
    install_problem_handlers(app)
    document_problems(app)
    for module in (products, images, galleries, search, duplicates, system):
        app.include_router(module.router, prefix=API_PREFIX)
    mount_web(app)
    app.add_middleware(BodySizeLimit, limit=max_upload_bytes(settings) * _REQUEST_FILES)  # type: ignore[arg-type]
    # Added last, so outermost: every answer gets the headers, a 413 from BodySizeLimit too.
    docs = [p for p in (app.docs_url, app.swagger_ui_oauth2_redirect_url) if p]
    app.add_middleware(SecurityHeaders, docs_paths=docs)  # type: ignore[arg-type]
    return app


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:
    """Serve with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **kw)
