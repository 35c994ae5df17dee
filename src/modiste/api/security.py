"""API-key checks for write and admin routes (header ``X-API-Key`` or ``Authorization: Bearer``).

Reads are public unless the setting ``api_public_read`` is false; then reads, the web pages
included, need a key too. A browser navigating pages or loading ``<img>`` cannot send headers,
so for reads (only) the key may also come in the ``modiste_key`` cookie, which the web UI sets
(``SameSite=Strict``) when a key is saved. Writes never accept the cookie, so a cross-site form
cannot spend it. Keys are verified against salted digests in the database
(:mod:`modiste.catalog.api_keys`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from modiste.api.problems import Unauthorized
from modiste.catalog.api_keys import ApiKeyInfo, verify_key
from modiste.catalog.db import Database
from modiste.config import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")
READ_COOKIE = "modiste_key"
read_cookie = APIKeyCookie(name=READ_COOKIE, auto_error=False, scheme_name="ReadKeyCookie")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="modiste"'}


def public_read(settings: Settings) -> bool:
    return settings.api_public_read


def require_key(
    request: Request,
    header_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> ApiKeyInfo:
    key = header_key or (credentials.credentials if credentials else None)
    if not key:
        raise Unauthorized(
            "this route needs an API key (X-API-Key header or Authorization: Bearer); "
            "create one with `modiste keys create NAME`",
            headers=_CHALLENGE,
        )
    db: Database = request.app.state.db
    with db.session() as session:
        info = verify_key(session, key)
    if info is None:
        raise Unauthorized("invalid or revoked API key", headers=_CHALLENGE)
    return info


def read_access(
    request: Request,
    header_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    cookie_key: Annotated[str | None, Security(read_cookie)] = None,
) -> ApiKeyInfo | None:
    if public_read(request.app.state.settings):
        return None
    if not header_key and credentials is None:
        header_key = cookie_key
    return require_key(request, header_key, credentials)


WriteKey = Annotated[ApiKeyInfo, Depends(require_key)]
ReadAccess = Annotated[ApiKeyInfo | None, Depends(read_access)]
