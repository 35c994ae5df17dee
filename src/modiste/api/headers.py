"""Security headers on every answer: ``nosniff`` everywhere; on HTML pages also a Content
Security Policy without inline script, ``frame-ancestors 'none'`` / ``X-Frame-Options: DENY``
(no clickjacking of the editor) and a same-origin Referrer-Policy.

The web UI keeps every script and style in ``/static`` (no inline ``<script>``, handlers or
``style`` attributes; box positions are set through the CSSOM, which CSP allows), so its policy
is ``'self'`` only. FastAPI's Swagger page at ``/docs`` is the exception: it loads Swagger UI
from jsDelivr and starts it with one inline script, so its policy allows that CDN and that
script by its sha256 (computed from the page itself, so it follows FastAPI upgrades).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' {hashes} " + _CDN + "; "
    # Swagger UI writes <style> elements at run time; style injection is the lesser risk.
    "style-src 'self' 'unsafe-inline' " + _CDN + "; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
_HTML = [(b"x-frame-options", b"DENY")]


def script_hashes(html: bytes) -> list[str]:
    """CSP sources for each inline ``<script>`` of ``html`` ('sha256-...')."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


class SecurityHeaders:
    """Add the headers to every HTTP answer a route did not already set them on."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_headers(message.get("headers", []), PAGE_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) docs page back until its inline scripts are hashed."""
        start: Message | None = None
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            csp = DOCS_CSP.format(hashes=" ".join(script_hashes(page)))
            start["headers"] = _with_headers(start.get("headers", []), csp)
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, hold)


def _with_headers(raw: Iterable[tuple[bytes, bytes]], csp: str) -> list[tuple[bytes, bytes]]:
    headers = list(raw)
    present = {name.lower() for name, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    extra = list(_ALWAYS)
    if content_type.lower().startswith(b"text/html"):
        extra += [*_HTML, (b"content-security-policy", csp.encode())]
    headers += [(k, v) for k, v in extra if k not in present]
    return headers
