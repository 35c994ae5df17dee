"""The catalog editor and gallery review as a merchandiser uses them (issue #14 item 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, save_key

pytestmark = pytest.mark.browser


def _pid(live_server: LiveServer, q: str) -> int:
    res = httpx.get(f"{live_server.url}/v1/products", params={"q": q}).json()
    return int(res["items"][0]["id"])


def test_editor_finds_filters_and_bulk_edits(
    page: Any, live_server: LiveServer, test_output_dir: Path
) -> None:
    sent: list[Any] = []

    def fake_bulk(route: Any) -> None:  # the API test checks the write itself
        sent.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/json", body="[]")

    page.route("**/v1/products", fake_bulk)
    page.goto("/catalog")
    save_key(page, live_server.api_key)
    page.fill("#editor-filters input[name=q]", "Jacket")
    page.click("#editor-filters button[type=submit]")
    page.wait_for_url("**/catalog?*q=Jacket*")
    titles = page.locator(".edit-form input[name=title]").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert titles and all("Jacket" in t for t in titles), titles
    page.select_option("#editor-filters select[name=category]", "Men")
    page.click("#editor-filters button[type=submit]")
    page.wait_for_selector("#editor-count:has-text('1 product')")
    assert page.input_value("#editor-filters input[name=q]") == "Jacket"  # kept with the filter
    assert "q=Jacket" in page.locator(".tabs a").first.get_attribute("href")  # and by the tabs
    page.goto("/catalog?q=Second-hand")
    save_key(page, live_server.api_key)
    assert page.locator("#bulk-apply").is_disabled()
    picks = page.locator(".edit-card .pick")
    picks.nth(0).check()
    picks.nth(1).check()
    page.wait_for_selector("#bulk-count:has-text('2 selected')")
    page.select_option("#bulk select[name=gender]", "women")
    types = page.locator("#bulk select[name=product_type] option").all_inner_texts()
    assert "Women/Tops/Jackets" in types  # the catalog's own list
    page.select_option("#bulk select[name=product_type]", "Dress")
    page.screenshot(path=str(test_output_dir / "ui-catalog-bulk.png"), full_page=False)
    ids = [int(picks.nth(i).get_attribute("value")) for i in range(2)]
    with page.expect_navigation():  # the list is reloaded: it is ordered by confidence
        page.click("#bulk-apply")
    assert sent == [{"ids": ids, "changes": {"product_type": "Dress", "gender": "women"}}]
    # every product type input offers the catalog's types
    assert page.locator("#types option[value='Women/Tops/Jackets']").count() == 1
    assert (
        page.locator(".edit-form input[name=product_type]").first.get_attribute("list") == "types"
    )


def test_review_words_hide_a_photo_and_reset_the_order(
    page: Any, live_server: LiveServer, test_output_dir: Path
) -> None:
    pid = _pid(live_server, "Montana")
    page.goto(f"/review/{pid}")
    save_key(page, live_server.api_key)
    groups = page.locator(".label-select").first.locator("optgroup")
    assert groups.first.get_attribute("label") == "Model shots"
    words = groups.first.locator("option").all_inner_texts()
    assert words[:2] == ["Front, waist up", "Back, waist up"], words
    assert page.locator(".rthumb").first.bounding_box()["width"] >= 150  # larger photos
    items = page.locator(".review-item")
    auto = items.evaluate_all("els => els.map(e => e.dataset.imageId)")
    first = auto[0]
    items.first.locator("button.hide-photo").click()
    page.wait_for_selector("#toast:has-text('Photo hidden')")
    assert items.first.get_attribute("class").endswith("is-hidden")
    page.screenshot(path=str(test_output_dir / "ui-review-hidden.png"), full_page=False)
    shopper = page.context.new_page()
    shopper.goto(f"/products/{pid}")
    assert shopper.locator(".thumbs .thumb").count() == len(auto) - 1
    assert f"/v1/images/{first}/" not in shopper.content()
    page.locator(f".review-item[data-image-id='{first}'] button.hide-photo").click()
    page.wait_for_selector("#toast:has-text('Photo shown again')")
    shopper.reload()
    assert shopper.locator(".thumbs .thumb").count() == len(auto)
    shopper.close()
    page.locator(".review-item").first.locator("button.down").click()
    page.click("#save-order")
    page.wait_for_selector("#order-state:has-text('Order saved')")
    page.reload()
    moved = page.locator(".review-item").evaluate_all("els => els.map(e => e.dataset.imageId)")
    assert moved == [auto[1], auto[0], *auto[2:]]
    with page.expect_navigation():  # reloaded in the order the server computed
        page.click("#reset-order")
    reset = page.locator(".review-item").evaluate_all("els => els.map(e => e.dataset.imageId)")
    assert reset == auto
