"""The channel compliance view and the verdict beside gallery review, in Chromium (issue #15)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from modiste.catalog.db import Database
from modiste.compliance.catalog import check_catalog
from modiste.compliance.profiles import load_profile
from modiste.web.compliance_view import RULE_NAMES

from .conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def checked(live_server: LiveServer) -> int:
    """Store the zalando checks of the demo catalog, as `modiste check` would; failing count."""
    db = Database(live_server.settings)
    try:
        profile = load_profile("zalando", live_server.settings)
        reports = check_catalog(live_server.settings, db, profile)
    finally:
        db.dispose()
    return sum(1 for r in reports if r.violation_count)


def test_compliance_view_lists_failing_products_and_leads_to_their_verdict(
    page: Any, checked: int, test_output_dir: Path
) -> None:
    page.goto("/compliance")
    page.select_option("#compliance-profile", "zalando")
    page.click("text=Show failing products")
    page.wait_for_url(re.compile(r"/compliance\?profile=zalando"))
    assert checked > 0
    rows = page.locator("#compliance-table tbody tr")
    assert rows.count() == min(checked, 30)
    counts = [int(t) for t in page.locator("#compliance-table td.num").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)  # worst first
    assert page.locator("nav a[aria-current=page]").inner_text() == "Compliance"
    page.screenshot(path=str(test_output_dir / "ui-compliance.png"), full_page=True)
    worst = rows.first.locator("a")
    worst.click()
    page.wait_for_url(re.compile(r"/review/\d+\?profile=zalando"))
    summary = page.locator("#verdict-summary").inner_text()
    assert summary == f"{counts[0]} problem{'s' if counts[0] != 1 else ''} for zalando"
    images = page.locator(".verdict-images > li")
    assert images.count() >= 1 and "(main)" in images.first.inner_text()
    problems = page.locator(".verdict .violations li").all_inner_texts()
    assert len(problems) == counts[0]
    names = set(RULE_NAMES.values())
    assert all(any(p.startswith(n) for n in names) for p in problems)  # names, not rule ids
    assert page.locator("#review-list .review-item").count() >= 1  # the gallery is still there
    page.screenshot(path=str(test_output_dir / "ui-review-verdict.png"), full_page=False)


def test_review_verdict_switches_profile_with_the_form(page: Any, live_server: LiveServer) -> None:
    import httpx

    items = httpx.get(f"{live_server.url}/v1/products", params={"limit": 1}).json()["items"]
    page.goto(f"/review/{items[0]['id']}")
    assert page.locator("#verdict-summary").count() == 0
    page.select_option("#verdict-profile", "amazon")
    page.click(".verdict button[type=submit]")
    page.wait_for_url(re.compile(r"profile=amazon"))
    text = page.locator("#verdict-summary").inner_text()
    assert re.fullmatch(r"\d+ problems? for amazon|Meets amazon's rules", text)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_compliance_pages_with_results_have_no_serious_accessibility_violation(
    device: str, request: pytest.FixtureRequest, live_server: LiveServer, checked: int
) -> None:
    from .test_accessibility import _violations

    pg = request.getfixturevalue(device)
    pg.goto("/compliance?profile=zalando")
    assert pg.locator("#compliance-table tbody tr").count() >= 1
    found = {"compliance": _violations(pg)}
    pg.click("#compliance-table tbody tr a >> nth=0")
    pg.wait_for_selector("#verdict-summary")
    found["review verdict"] = _violations(pg)
    assert not any(found.values()), found
