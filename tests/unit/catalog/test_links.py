"""Links a browser may follow: http(s) only, whatever the case or hidden characters."""

from __future__ import annotations

import pytest

from modiste.catalog.links import safe_href, safe_http_url

REFUSED = [
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "http:\\\\evil.example",
    "https://",
    "https://shop.example:99999/p",
    "shop.example/p",
    "https://shop.example/\njavascript:x",
    "x" * 3000,
    "",
]


@pytest.mark.parametrize("link", REFUSED)
def test_refused(link: str) -> None:
    assert safe_http_url(link) is None
    assert safe_href(link) == ""


@pytest.mark.parametrize(
    "link", ["https://shop.example/p/1?c=red#top", "HTTP://SHOP.EXAMPLE/P", "http://[2001:db8::1]/"]
)
def test_kept(link: str) -> None:
    assert safe_http_url(link) == link
    assert safe_href(f"  {link} ") == link


def test_site_paths_are_kept_by_the_template_filter() -> None:
    assert safe_href("/v1/images/3/thumb?size=256") == "/v1/images/3/thumb?size=256"
    assert safe_href(None) == "" and safe_href(12) == ""
    assert safe_http_url("/v1/images/3") is None  # a product's shop link must be absolute
