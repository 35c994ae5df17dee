"""Server-rendered pages: small things people notice (issue #14 item 15)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from modiste.web.routes import plural

HTML = {"accept": "text/html"}


def test_favicon_is_served_and_linked(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert len(icon.content) < 2048
    for path in ("/", "/catalog", "/duplicates", "/docs"):
        links = re.findall(r'<link rel="icon" href="([^"]+)"', client.get(path, headers=HTML).text)
        assert links, path
        assert client.get(links[0]).status_code == 200


def test_private_catalog_still_has_a_favicon(client: TestClient) -> None:
    client.app.state.settings.api_public_read = False  # type: ignore[attr-defined]
    assert client.get("/", headers=HTML).status_code == 401
    assert client.get("/favicon.ico").status_code == 200


def test_counts_agree_with_their_nouns(client: TestClient) -> None:
    assert (plural(1, "product"), plural(2, "group"), plural(0, "box", "boxes")) == (
        "1 product",
        "2 groups",
        "0 boxes",
    )
    page = client.get("/duplicates", headers=HTML).text
    count = re.search(r"(\d+) (groups?) ·", page)
    assert count and count.group(2) == ("group" if count.group(1) == "1" else "groups")
    assert not re.search(r"\b1 (groups|products)\b", page + client.get("/catalog").text)
