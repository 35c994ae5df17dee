"""Phone layout at 390x844 (issue #14 item 16): results on the first screen, comparable offers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer, save_key

pytestmark = pytest.mark.browser


def _top(page: Any, selector: str) -> float:
    return float(page.locator(selector).first.bounding_box()["y"])


def test_compact_header_and_folded_filters_leave_results_on_the_first_screen(
    phone: Any, test_output_dir: Path
) -> None:
    phone.goto("/?q=jacket")
    phone.wait_for_selector("#results .card")
    header = phone.locator(".topbar").bounding_box()["height"]
    assert header <= 60, f"the sticky header is {header}px tall"
    assert phone.locator("#filter-box").get_attribute("open") is None  # folded on a phone
    first = phone.locator("#results .card").first.bounding_box()
    assert first["y"] + 120 < 844, f"the first result starts at {first['y']}px"
    phone.screenshot(path=str(test_output_dir / "ui-phone-first-screen.png"), full_page=False)
    # a folded filter still says it is set, and opens with one tap
    phone.locator("#filter-box summary").tap()
    phone.select_option("#filters select[name=gender]", "men")
    phone.wait_for_selector("#filter-count:has-text('1 set')")
    phone.reload()
    phone.wait_for_selector("#results .card")
    assert "1 set" in phone.inner_text("#filter-count")  # from the URL, folded again
    assert phone.locator("#filter-box").get_attribute("open") is None


def test_filters_stay_open_on_a_desktop(page: Any) -> None:
    page.goto("/")
    assert page.locator("#filter-box").get_attribute("open") is not None


def test_duplicates_offers_side_by_side_and_editor_pages(
    phone: Any, live_server: LiveServer, test_output_dir: Path
) -> None:
    phone.goto("/duplicates")  # any status: another test may have confirmed the group
    group = phone.locator(f".group[data-group-id='{live_server.group_id}']")
    members = group.locator(".member")
    assert members.count() == 2
    a, b = members.nth(0).bounding_box(), members.nth(1).bounding_box()
    assert abs(a["y"] - b["y"]) < 2 and a["x"] < b["x"], (a, b)  # side by side, not stacked
    assert "$" in members.nth(0).inner_text() and "$" in members.nth(1).inner_text()
    group.screenshot(path=str(test_output_dir / "ui-phone-offers-side-by-side.png"))
    phone.goto("/catalog")
    save_key(phone, live_server.api_key)
    assert phone.locator(".edit-card").count() <= 12  # a page at a time
    assert phone.locator(".pager a:has-text('Next')").count() == 1
    assert _top(phone, "#editor-filters input[name=q]") < 844  # search on the first screen
    phone.fill("#editor-filters input[name=q]", "Hoodie")
    phone.locator("#editor-filters button[type=submit]").tap()
    phone.wait_for_selector("#editor-count:has-text('products')")
    titles = phone.locator(".edit-form input[name=title]").evaluate_all("e => e.map(x => x.value)")
    assert titles and all("hood" in t.lower() for t in titles), titles
