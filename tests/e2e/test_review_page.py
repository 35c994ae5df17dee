"""Gallery review as a merchandiser uses it with the keyboard (issue #14 item 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, save_key

pytestmark = pytest.mark.browser


def test_arrow_keys_save_one_label_when_committed(
    page: Any, live_server: LiveServer, test_output_dir: Path
) -> None:
    """Three arrow steps record one label (on leaving the list), and the old reason goes."""
    res = httpx.get(f"{live_server.url}/v1/products", params={"q": "Montana"}).json()
    pid = int(res["items"][0]["id"])
    saves: list[str] = []

    def fake_save(route: Any) -> None:  # answered here: nothing reaches the catalog
        saves.append(route.request.post_data_json["label"])
        route.fulfill(status=200, content_type="application/json", body="{}")

    page.route("**/v1/images/*/shot", fake_save)
    page.goto(f"/review/{pid}")
    save_key(page, live_server.api_key)
    item = page.locator(".review-item").filter(has=page.locator(".label-select:enabled")).first
    select = item.locator(".label-select")
    start = select.input_value()
    select.focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown" if start != "unknown" else "ArrowUp")
    chosen = select.input_value()
    assert chosen != start
    assert saves == []  # stepping is not choosing
    assert item.locator(".reason").count() == 0  # the model's reason for the old label
    assert "Not saved yet" in item.locator(".meta").inner_text()
    page.screenshot(path=str(test_output_dir / "ui-review-pending-label.png"), full_page=False)
    page.keyboard.press("Tab")  # leaving the list commits it
    page.wait_for_selector(f"#toast:has-text('Label saved: {chosen}')")
    assert saves == [chosen]
    assert item.locator(".badge").inner_text() == "checked"
    select.focus()
    page.keyboard.press("ArrowUp")
    again = select.input_value()
    page.keyboard.press("Enter")  # so does Enter
    page.wait_for_selector(f"#toast:has-text('Label saved: {again}')")
    assert saves == [chosen, again]
