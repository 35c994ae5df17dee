"""axe-core on every page (issue #14 checks): no serious or critical violation.

Pages are checked as people see them: with results on screen, with an API key (editing pages
show their controls), on a desktop and on a phone. axe runs in the page through Playwright
(``axe-playwright-python``, a dev extra), which the Content-Security-Policy does not block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, save_key
from .test_search_page import PHOTO, _fake_photo_search

pytestmark = pytest.mark.browser
BLOCKING = {"serious", "critical"}


def _pid(live_server: LiveServer, q: str) -> int:
    res = httpx.get(f"{live_server.url}/v1/products", params={"q": q}).json()
    return int(res["items"][0]["id"])


def _violations(page: Any) -> list[str]:
    axe = pytest.importorskip(
        "axe_playwright_python.sync_playwright", reason="pip install -e '.[dev]' (axe-core)"
    )
    Axe = axe.Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]


def _pages(live_server: LiveServer) -> dict[str, str]:
    stellar, montana = _pid(live_server, "Stellar"), _pid(live_server, "Montana")
    return {
        "search": "/",
        "search results": "/?q=jacket",
        "no results": "/?q=zzzz",
        "product": f"/products/{stellar}",
        "editor": "/catalog",
        "editor filtered": "/catalog?q=Jacket&category=Men",
        "review": f"/review/{montana}",
        "duplicates": "/duplicates",
        "compliance": "/compliance",
        "error": "/products/999999",
        "API docs": "/docs",  # Swagger UI, with docs.css darkening its colours
    }


@pytest.mark.slow  # ~12 s a device: axe over eleven pages
@pytest.mark.parametrize("device", ["page", "phone"])
def test_every_page_has_no_serious_accessibility_violation(
    device: str, request: pytest.FixtureRequest, live_server: LiveServer, test_output_dir: Path
) -> None:
    pg = request.getfixturevalue(device)
    pg.goto("/")
    save_key(pg, live_server.api_key)  # editing pages then show every control
    found: dict[str, list[str]] = {}
    for name, url in _pages(live_server).items():
        pg.goto(url)
        pg.wait_for_load_state("networkidle")
        if url == "/docs":
            pg.wait_for_selector(".opblock")
        if problems := _violations(pg):
            found[name] = problems
    # the photo search as a shopper sees it: photo, garment chips, results
    _fake_photo_search(pg)
    pg.goto("/")
    pg.set_input_files("#photo", PHOTO)
    pg.wait_for_selector("#results .card")
    if problems := _violations(pg):
        found["photo search"] = problems
    (test_output_dir / f"axe-{device}.json").write_text(json.dumps(found, indent=2))
    assert not found, json.dumps(found, indent=2)
