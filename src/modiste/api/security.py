"""API-key checks (header ``X-API-Key`` or ``Authorization: Bearer``), with scopes per route.

Scopes, each including the ones before it (:data:`modiste.catalog.api_keys.SCOPES`):

- ``read``: reads (products, galleries, images, search, duplicates, regulations). Reads are
  public unless the setting ``api_public_read`` is false; then they need a key, any key.
- ``write``: catalog edits: products create/update, gallery order, shot labels and their
  export, duplicate verdicts (everything the web UI's editor, review and duplicates pages do).
- ``admin``: regulations PUT, ingest jobs (start, list, progress), product deletes.

A key without the scope a route needs gets 403; no key or a bad one gets 401. The scopes a
route needs are in its OpenAPI ``security`` requirement.

A browser navigating pages or loading ``<img>`` cannot send headers, so for reads (only) the
key may also come in the ``modiste_key`` cookie, which the web UI sets (``SameSite=Strict``)
when a key is saved. Writes never accept the cookie, so a cross-site form cannot spend it
(CSRF): a form can neither set ``X-API-Key`` nor make a browser send a Bearer token. Keys are
never read from the query string either, where they would end up in logs and browser history.
Keys are verified against salted digests in the database (:mod:`modiste.catalog.api_keys`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from modiste.api.problems import Forbidden, Unauthorized
from modiste.catalog.api_keys import ApiKeyInfo, verify_key
from modiste.catalog.db import Database
from modiste.config import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")
READ_COOKIE = "modiste_key"
read_cookie = APIKeyCookie(name=READ_COOKIE, auto_error=False, scheme_name="ReadKeyCookie")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="modiste"'}
# Names a client might try; they are never read, only named in the refusal so the caller learns.
_QUERY_KEY_NAMES = ("api_key", "apikey", "api-key", "key", "token", "access_token")


def public_read(settings: Settings) -> bool:
    return settings.api_public_read


def _authenticate(request: Request, key: str | None) -> ApiKeyInfo:
    if not key:
        hint = ""
        if any(name in request.query_params for name in _QUERY_KEY_NAMES):
            hint = " (keys in the query string are not accepted: they end up in logs)"
        raise Unauthorized(
            "this route needs an API key (X-API-Key header or Authorization: Bearer)"
            f"{hint}; create one with `modiste keys create NAME`",
            headers=_CHALLENGE,
        )
    info = known_key(request, key)
    if info is None:
        raise Unauthorized("invalid or revoked API key", headers=_CHALLENGE)
    return info


_VERIFIED = "modiste.verified_keys"


def known_key(request: Request, key: str) -> ApiKeyInfo | None:
    """The key's record, or None when it is invalid or revoked: looked up once per request.

    The pre-body guard, the rate limit and the route's own dependency all ask; they share the
    request's ASGI scope, so the key table is read (and last use stamped) once, not three times.
    """
    verified: dict[str, ApiKeyInfo | None] = request.scope.setdefault(_VERIFIED, {})
    if key not in verified:
        db: Database = request.app.state.db
        with db.session() as session:
            verified[key] = verify_key(session, key)
    return verified[key]


def require_key(
    request: Request,
    security_scopes: SecurityScopes,
    header_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> ApiKeyInfo:
    """A valid key from a header (never the cookie) holding every scope the route declares."""
    info = _authenticate(request, header_key or (credentials.credentials if credentials else None))
    missing = [s for s in security_scopes.scopes if not info.allows(s)]
    if missing:
        raise Forbidden(
            f"this route needs an API key with the {missing[-1]!r} scope; this key has "
            f"{info.scope!r} (make one with `modiste keys create NAME --scope {missing[-1]}`)"
        )
    return info


def read_access(
    request: Request,
    header_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    cookie_key: Annotated[str | None, Security(read_cookie)] = None,
) -> ApiKeyInfo | None:
    if public_read(request.app.state.settings):
        return None
    key = header_key or (credentials.credentials if credentials else None) or cookie_key
    info = _authenticate(request, key)
    if not info.allows("read"):  # `keys create` always grants it; a hand-edited row may not
        raise Forbidden("this API key has no 'read' scope")
    return info


WriteKey = Annotated[ApiKeyInfo, Security(require_key, scopes=["write"])]
AdminKey = Annotated[ApiKeyInfo, Security(require_key, scopes=["admin"])]
ReadAccess = Annotated[ApiKeyInfo | None, Depends(read_access)]
