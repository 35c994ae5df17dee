"""The channel verdict on the gallery review page and the /compliance catalog view (issue #15)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from modiste.api import create_app
from modiste.compliance.catalog import check_catalog
from modiste.compliance.profiles import load_profile
from modiste.config import Settings


def _ids(client: TestClient) -> list[int]:
    items = client.get("/v1/products", params={"limit": 100}).json()["items"]
    return [int(p["id"]) for p in items]


def test_review_page_shows_the_chosen_profiles_verdict_per_image(client: TestClient) -> None:
    pid = _ids(client)[0]
    plain = client.get(f"/review/{pid}")
    assert plain.status_code == 200 and "choose a channel" in plain.text
    assert 'id="verdict-summary"' not in plain.text  # nothing checked until asked
    page = client.get(f"/review/{pid}", params={"profile": "amazon"})
    assert page.status_code == 200
    html = page.text
    assert re.search(r'id="verdict-summary">\s*(\d+ problems?|Meets amazon)', html)
    assert '<option value="amazon" selected>' in html
    assert "(main)" in html  # the channel's first photo is named
    # rule ids become names a merchandiser reads
    assert "main-white-background" not in html and "main-fill" not in html
    stored = client.get(f"/review/{pid}", params={"profile": "amazon"}).text
    assert "checked now" in html and "checked now" not in stored  # the second read is stored


def test_review_page_with_an_unknown_profile_says_so(client: TestClient) -> None:
    pid = _ids(client)[0]
    page = client.get(f"/review/{pid}", params={"profile": "../etc/passwd"})
    assert page.status_code == 200 and "no profile" in page.text and "amazon" in page.text


def test_compliance_view_lists_failing_products_worst_first(client: TestClient) -> None:
    assert "Choose a sales channel" in client.get("/compliance").text
    empty = client.get("/compliance", params={"profile": "zalando"})
    assert empty.status_code == 200 and 'id="compliance-empty"' in empty.text
    assert client.get("/compliance", params={"profile": "nope"}).status_code == 404
    state = client.app.state  # type: ignore[attr-defined]
    profile = load_profile("zalando", state.settings)
    reports = check_catalog(state.settings, state.db, profile, store=state.store)
    failing = [r for r in reports if r.violation_count]
    assert failing
    html = client.get("/compliance", params={"profile": "zalando"}).text
    counts = [int(c) for c in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert counts == sorted((r.violation_count for r in failing), reverse=True)[: len(counts)]
    assert f"{len(failing)} product" in html
    assert "Aspect ratio" in html or "Photo too small" in html  # readable rule names
    assert 'href="/review/' in html and "profile=zalando" in html
    assert 'aria-current="page">Compliance' in html


def test_pages_start_with_the_profile_ingest_checks(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"compliance_profiles": ["/tmp/x.yaml", "ajio"]})
    app = create_app(settings)
    with TestClient(app) as client:
        pid = _ids(client)[0]
        assert '<option value="ajio" selected>' in client.get(f"/review/{pid}").text
        assert 'id="verdict-summary"' in client.get(f"/review/{pid}").text
        assert '<option value="ajio" selected>' in client.get("/compliance").text
    app.state.db.dispose()
