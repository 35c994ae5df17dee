"""Security headers through the app: a CSP without inline script on every HTML page, no
framing, nosniff on every answer (API included); and the templates keep to that CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.config import Settings

WEB = Path(__file__).resolve().parents[2] / "src" / "modiste" / "web"
HTML = {"accept": "text/html"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as c:
        yield c
    app.state.db.dispose()


def _csp(response: object) -> dict[str, str]:
    value = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in value.split(";")) if d}


@pytest.mark.parametrize("path", ["/", "/catalog", "/duplicates", "/products/999"])
def test_pages_forbid_inline_script_and_framing(client: TestClient, path: str) -> None:
    page = client.get(path, headers=HTML)
    assert page.headers["content-type"].startswith("text/html")  # 404 page included
    csp = _csp(page)
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(
    "method, path", [("get", "/v1/health"), ("get", "/v1/products/999"), ("get", "/openapi.json")]
)
def test_api_answers_are_nosniff(client: TestClient, method: str, path: str) -> None:
    answer = client.request(method, path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in answer.headers  # JSON: nothing to run
    assert client.get("/static/app.js").headers["x-content-type-options"] == "nosniff"


def test_docs_page_is_served_from_this_site_alone(client: TestClient) -> None:
    """Modiste runs offline: /docs must not load Swagger UI from a CDN (issue #14 item 4)."""
    docs = client.get("/docs")
    assert docs.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]*)"', docs.text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", docs.text)  # no inline script
    csp = _csp(docs)
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert "http" not in docs.headers["content-security-policy"]  # no CDN allowed either
    assert csp["frame-ancestors"] == "'none'"
    assert client.get("/docs/oauth2-redirect").status_code == 404  # no OAuth2 flow


def test_templates_and_script_need_no_inline_allowance() -> None:
    """What the page CSP would block: inline <script>, on* handlers, style attributes."""
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert not re.search(r"\sstyle\s*=|<style", text), template.name
    script = (WEB / "static" / "app.js").read_text()
    assert not re.search(r"\bstyle:\s*`|setAttribute\(\s*\"style\"|innerHTML|eval\(", script)
