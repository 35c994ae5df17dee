"""Which links from a feed or the catalog a browser may be sent to.

A product's shop link is rendered as an ``href``: a ``javascript:`` or ``data:`` link there runs
script in the web UI's origin, where the API key is kept. Links are checked when a feed is
imported and again whenever one is rendered, so a link stored by an older version is harmless.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LINK_LENGTH = 2048
# Browsers drop tabs and newlines inside a URL ("java\tscript:") and treat "\" as "/": a link
# holding any of them is refused rather than second-guessed.
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def safe_http_url(value: object) -> str | None:
    """``value`` (stripped) if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    link = value.strip()
    if not link or len(link) > MAX_LINK_LENGTH or _UNSAFE_CHARS.search(link):
        return None
    try:
        parts = urlsplit(link)
        host = parts.hostname
        parts.port  # noqa: B018  # a malformed port raises here
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return link


def safe_href(value: object) -> str:
    """An ``href``/``src`` from data: an http(s) URL or a path on this site, else ``""``.

    Used as the web UI's ``safe_url`` Jinja filter, so a template never builds a link to a
    ``javascript:``/``data:`` URL or to another site through a ``//host`` path.
    """
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if text.startswith("/") and not text.startswith("//") and not _UNSAFE_CHARS.search(text):
        return text
    return safe_http_url(text) or ""


def link_problem(value: str) -> str:
    """Why a feed's ``link`` is dropped, for the import report."""
    shown = value.strip()[:80]
    return f"link {shown!r} dropped: only http(s) links with a host are kept"
