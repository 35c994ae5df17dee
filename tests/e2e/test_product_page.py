"""The product page's gallery (issue #14 item 12), in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveServer

pytestmark = pytest.mark.browser


def test_hero_alt_text_follows_the_thumbnail(
    page: Any, live_server: LiveServer, test_output_dir: Path
) -> None:
    res = httpx.get(f"{live_server.url}/v1/products", params={"q": "Stellar"}).json()
    page.goto(f"/products/{res['items'][0]['id']}")
    first = page.get_attribute("#hero", "alt")
    assert first.startswith("Stellar Solar Jacket: ") and first.endswith(" 1")
    thumbs = page.locator(".thumbs .thumb")
    for i in range(thumbs.count()):
        thumbs.nth(i).click()
        alt = page.get_attribute("#hero", "alt")
        assert alt.startswith("Stellar Solar Jacket: ") and alt.endswith(f" {i + 1}"), alt
        # the same words as the thumbnail the shopper chose
        tag = thumbs.nth(i).locator(".tag")
        if tag.count():
            assert tag.inner_text() in alt
    thumbs.nth(1).click()
    page.screenshot(path=str(test_output_dir / "ui-product-second-photo.png"), full_page=False)
