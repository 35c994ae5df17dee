"""Security headers on every answer: ``nosniff`` everywhere; on HTML pages also a Content
Security Policy without inline script, ``frame-ancestors 'none'`` / ``X-Frame-Options: DENY``
(no clickjacking of the editor) and a same-origin Referrer-Policy.

The web UI keeps every script and style in ``/static`` (no inline ``<script>``, handlers or
``style`` attributes; box positions are set through the CSSOM, which CSP allows), so its policy
is ``'self'`` only. The Swagger page at ``/docs`` is served from this site too (``web/docs.py``:
the bundled Swagger UI, started from a static file), so its scripts are ``'self'`` as well; it
differs only where Swagger UI needs it: ``data:`` images (its icons).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
_HTML = [(b"x-frame-options", b"DENY")]


class SecurityHeaders:
    """Add the headers to every HTTP answer a route did not already set them on."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_headers(message.get("headers", []), csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_headers(raw: Iterable[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
    headers = list(raw)
    present = {name.lower() for name, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    extra = list(_ALWAYS)
    if content_type.lower().startswith(b"text/html"):
        extra += [*_HTML, (b"content-security-policy", csp.encode())]
    headers += [(k, v) for k, v in extra if k not in present]
    return headers
