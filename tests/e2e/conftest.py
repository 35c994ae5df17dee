"""A real server (uvicorn in a thread) over the demo catalog, and headless Chromium.

Tests here skip with a clear message when /usr/bin/chromium is absent
(install it with `apt-get install -y chromium`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.support import build_demo
from modiste.catalog.api_keys import create_key
from modiste.catalog.db import Database
from modiste.catalog.schema import DuplicateGroup
from modiste.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    api_key: str
    group_id: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _offer_group(settings: Settings) -> int:
    """The offer group ingest found: the studio jacket and its resale (same photos)."""
    db = Database(settings)
    with db.session() as s:
        group = s.query(DuplicateGroup).filter(DuplicateGroup.kind == "offer").one()
        titles = {m.product_id for m in group.members}
        assert len(titles) == 2
        gid = group.id
    db.dispose()
    return gid


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip(
            "headless Chromium not found at /usr/bin/chromium (apt-get install -y chromium)"
        )
    import uvicorn

    from modiste.api import create_app

    data = tmp_path_factory.mktemp("e2e") / "data"
    build_demo(data)
    settings = Settings(data_dir=data)
    group_id = _offer_group(settings)
    app = create_app(settings)
    with app.state.db.session() as s:
        _, key = create_key(s, "e2e")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield LiveServer(f"http://127.0.0.1:{port}", settings, key, group_id)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.db.dispose()


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, base_url=live_server.url, device_scale_factor=1,
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def save_key(page: Any, key: str) -> None:
    """Use the page's own API-key form, as a person would."""
    page.click("#keybox summary")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
