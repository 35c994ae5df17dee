"""What a request must pass before its body is read: the route's key check and its body cap.

FastAPI reads (and spools) a request body before it resolves the route's dependencies, so a
route's API-key check alone would let anyone make the server take in a whole body before the
401. :class:`~modiste.api.app.BodySizeLimit` asks :func:`route_policy` which route a request
goes to and runs that route's own key checks first (the functions of
:mod:`modiste.api.security`, called with the headers alone), and caps the body by what the
route takes: photo uploads get the upload cap, everything else (JSON, forms) a much lower one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, SecurityScopes
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import Scope

from modiste.api import security
from modiste.api.ratelimit import RateLimit

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI < 0.16x: include_router copied routes, so app.routes is flat

    def iter_route_contexts(routes: Any) -> Iterator[Any]:  # type: ignore[misc]
        for route in routes:
            yield SimpleNamespace(original_route=route, matches=route.matches, dependant=None)


KeyCheck = Callable[[Request], Any]


@dataclass(frozen=True)
class RoutePolicy:
    """``checks`` raise an ApiProblem (401/403, 429) for a request that may not send its body."""

    checks: tuple[KeyCheck, ...] = ()
    uploads: bool = False  # takes File() parameters: the upload cap, else the body cap
    reads_body: bool = False  # has body parameters at all (FastAPI reads nothing otherwise)


NO_BODY = RoutePolicy()


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _header_key(request: Request) -> str | None:
    return request.headers.get("x-api-key") or None


def _bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


def _write_check(scopes: list[str]) -> KeyCheck:
    """The same call FastAPI makes for the route, from the headers alone."""
    security_scopes = SecurityScopes(scopes=scopes)

    def check(request: Request) -> Any:
        return security.require_key(
            request,
            security_scopes,
            header_key=_header_key(request),
            credentials=_bearer(request),
        )

    return check


def _read_check(request: Request) -> Any:
    cookie = request.cookies.get(security.READ_COOKIE)
    return security.read_access(
        request, header_key=_header_key(request), credentials=_bearer(request), cookie_key=cookie
    )


def _policy_of(dependant: Dependant) -> RoutePolicy:
    checks: list[KeyCheck] = []
    uploads = reads_body = False
    for dep in _walk(dependant):
        if dep.body_params:
            reads_body = True
        uploads = uploads or any(isinstance(p.field_info, params.File) for p in dep.body_params)
        if dep.call is security.require_key:
            own = [*(dep.parent_oauth_scopes or []), *(dep.own_oauth_scopes or [])]
            scopes = list(dict.fromkeys(own))
            checks.append(_write_check(scopes))
        elif dep.call is security.read_access:
            checks.append(_read_check)
        elif isinstance(dep.call, RateLimit):
            checks.append(dep.call.before_body)
    return RoutePolicy(tuple(checks), uploads, reads_body)


def _route_table(app: Any) -> list[tuple[Any, RoutePolicy]]:
    """Every route of ``app`` in the router's order, with its policy (built once per app)."""
    table: list[tuple[Any, RoutePolicy]] | None = getattr(app.state, "_route_policies", None)
    if table is None:
        table = []
        for ctx in iter_route_contexts(app.routes):  # included routers, flattened with prefixes
            route = ctx.original_route
            if isinstance(route, APIRoute):
                # The effective dependant includes the dependencies of the routers it is in.
                dependant = getattr(ctx, "dependant", None) or route.dependant
                table.append((ctx, _policy_of(dependant)))
            else:
                table.append((ctx, NO_BODY))
        app.state._route_policies = table
    return table


def route_policy(scope: Scope) -> RoutePolicy:
    """The policy of the route ``scope`` goes to; :data:`NO_BODY` when none (404, 405, pages)."""
    app = scope.get("app")
    if app is None or not hasattr(app, "state"):
        return NO_BODY
    for ctx, policy in _route_table(app):
        match, _ = ctx.matches(scope)
        if match is Match.FULL:
            return policy
    return NO_BODY
