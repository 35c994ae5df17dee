"""Every error answer is ``application/problem+json`` (RFC 9457): type, title, status, detail.

Library errors are mapped by class, so a route never builds an error response by hand: it lets
a :class:`~modiste.errors.ModisteError` propagate and the handler picks the status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from modiste.errors import (
    ConfigError,
    FeedError,
    FetchError,
    ImageDecodeError,
    ModelError,
    ModisteError,
    NotFoundError,
    StoreError,
    VectorIndexError,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://modiste.dev/problems/"
# The routes with modiste.api.ratelimit's dependency (documented here as their 429).
RATE_LIMITED = ("/search/image", "/galleries/sort", "/jobs/ingest", "/exports")


class ApiProblem(ModisteError):
    """An HTTP-level refusal raised by the API layer itself (auth, size, conflicts...)."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.headers = headers or {}


class Unauthorized(ApiProblem):
    status, slug = 401, "unauthorized"


class Forbidden(ApiProblem):
    """A valid key without the scope the route needs (see :mod:`modiste.api.security`)."""

    status, slug = 403, "forbidden"


class Conflict(ApiProblem):
    status, slug = 409, "conflict"


class PayloadTooLarge(ApiProblem):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ApiProblem):
    status, slug = 415, "unsupported-media-type"


class TooManyRequests(ApiProblem):
    """A client over its rate on an expensive route (see :mod:`modiste.api.ratelimit`)."""

    status, slug = 429, "too-many-requests"


class NotAvailable(ApiProblem):
    """A feature whose module is not installed or not built yet (e.g. visual search)."""

    status, slug = 503, "not-available"


# Most specific first: the first isinstance match wins.
_MAPPING: tuple[tuple[type[ModisteError], int, str], ...] = (
    (NotFoundError, 404, "not-found"),
    (ImageDecodeError, 422, "image-decode"),
    (ConfigError, 400, "invalid"),
    (FeedError, 400, "invalid-feed"),
    (FetchError, 502, "fetch-failed"),
    (ModelError, 503, "model-unavailable"),
    (VectorIndexError, 503, "index-unavailable"),
    (StoreError, 503, "store-unavailable"),
)


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {
        "type": TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_for(exc: ModisteError) -> tuple[int, str]:
    if isinstance(exc, ApiProblem):
        return exc.status, exc.slug
    for cls, status, slug in _MAPPING:
        if isinstance(exc, cls):
            return status, slug
    return 500, "internal"


def _page_error(request: Request, status: int, detail: str) -> Response | None:
    """Web pages (not /v1) answer a browser with an HTML error page instead of JSON."""
    path = request.url.path
    wants_html = "text/html" in request.headers.get("accept", "")
    templates = getattr(request.app.state, "templates", None)
    if path.startswith(("/v1/", "/static/")) or not wants_html or templates is None:
        return None
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    context = {"page": "error", "title": title, "detail": detail, "version": ""}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def public_detail(request: Request, detail: str) -> str:
    """``detail`` with the server's own folders named, not spelled out (a regulation file's
    error reads ``DATA_DIR/regulations/x.yaml``): a public answer should not map the disk."""
    settings = getattr(request.app.state, "settings", None)
    roots = [(Path(__file__).resolve().parents[1], "<modiste>")]
    if settings is not None:
        roots += [(settings.model_dir, "MODELS_DIR"), (settings.resolved_data_dir, "DATA_DIR")]
    for root, name in sorted(roots, key=lambda r: -len(str(r[0]))):  # the deepest first
        detail = detail.replace(str(root), name)
    return detail


async def _modiste(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModisteError)
    status, slug = status_for(exc)
    if status >= 500 and status != 503:
        log.exception("request failed", exc_info=exc)
    headers = exc.headers if isinstance(exc, ApiProblem) else None
    detail = public_detail(request, str(exc))
    return _page_error(request, status, detail) or problem(
        status, detail, slug=slug, headers=headers
    )


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return _page_error(request, exc.status_code, detail) or problem(
        exc.status_code, detail, headers=getattr(exc, "headers", None)
    )


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # A person who typed a page address (/review/abc) gets the error page in words, not JSON.
    in_path = any((e.get("loc") or ("",))[0] == "path" for e in exc.errors())
    page = _page_error(
        request,
        404 if in_path else 400,
        "There is no page at this address." if in_path else "This page address is not valid.",
    )
    if page is not None:
        return page
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    loc, msg = list(first["loc"] or []), str(first["msg"])
    detail = f"{'.'.join(loc)}: {msg}" if loc else msg
    return problem(422, detail, slug="validation", errors=errors)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal error; see the server log", slug="internal")


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457). Validation errors also list each field in `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
}
_WHY = {
    400: "Invalid value (a regulation that does not parse, an id already taken...)",
    401: "No valid API key (writes; reads too when the catalog is private)",
    403: "The API key lacks the scope this route needs (write or admin)",
    404: "No such item",
    409: "Another ingest job is running",
    413: "Upload over the size cap",
    415: "Not an allowed image format",
    422: "Invalid request, or a photo that does not decode",
    429: "Too many requests from this client or API key; retry after Retry-After seconds",
    503: "The feature's model or index is not built or not installed",
}


def _error_codes(path: str, method: str, op: dict[str, Any]) -> set[int]:
    """The problem answers an operation can give, from what it takes and what it does."""
    codes = {422} if "422" in op["responses"] else set()
    if op.get("security"):
        codes.add(401)
        if any(scopes for req in op["security"] for scopes in req.values()):
            codes.add(403)  # a route that names scopes (write, admin); every key can read
    if "{" in path:
        codes.add(404)
    body = (op.get("requestBody") or {}).get("content", {})
    if "multipart/form-data" in body:
        codes |= {413, 415, 422}
    elif method in ("post", "put", "patch") and body:
        codes.add(400)
    if path.endswith(("/search/image", "/galleries/sort", "/similar")):
        codes.add(503)
    if path.endswith("/jobs/ingest"):
        codes.add(409)
    if method == "post" and path.endswith(RATE_LIMITED):
        codes.add(429)
    return codes


def document_problems(app: FastAPI) -> None:
    """Describe the error answers in the OpenAPI schema as they are sent: problem+json with
    the Problem schema (FastAPI's default 422 says application/json with another shape)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        ref = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                for code in sorted(_error_codes(path, method, op)):
                    op["responses"][str(code)] = {"description": _WHY[code], "content": ref}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ModisteError, _modiste)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
