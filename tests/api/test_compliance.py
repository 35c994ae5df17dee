"""/v1/products/{id}/compliance and /v1/compliance over the demo catalog (no OCR: stubbed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import modiste.api.routes.compliance as compliance_routes
from modiste.config import Settings

from .support import assert_problem


@pytest.fixture(autouse=True)
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compliance_routes, "_shared_ocr", lambda: None)


def _product_ids(client: TestClient, n: int = 3) -> list[int]:
    items = client.get("/v1/products", params={"limit": n}).json()["items"]
    return [p["id"] for p in items]


def test_product_check_is_computed_then_served_from_the_store(client: TestClient) -> None:
    pid = _product_ids(client, 1)[0]
    first = client.get(f"/v1/products/{pid}/compliance", params={"profile": "amazon"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["profile"], body["product"], body["stored"]) == ("amazon", pid, False)
    assert body["images"], "the demo product has photos"
    image = body["images"][0]
    rules = {v["rule"] for v in image["violations"]}
    assert "min-size" in rules  # the demo photos are 512 px; Amazon wants 1000
    for v in image["violations"]:
        assert set(v) == {"rule", "message", "measured", "limit"}
    again = client.get(f"/v1/products/{pid}/compliance", params={"profile": "amazon"}).json()
    assert again["stored"] is True
    assert again["images"] == body["images"]


def test_failing_products_worst_first_and_paged(client: TestClient) -> None:
    for pid in _product_ids(client, 3):
        client.get(f"/v1/products/{pid}/compliance", params={"profile": "amazon"})
    page = client.get("/v1/compliance", params={"profile": "amazon", "limit": 2}).json()
    assert page["profile"] == "amazon" and page["total"] == 3
    assert len(page["items"]) == 2
    counts = [i["violations"] for i in page["items"]]
    assert counts == sorted(counts, reverse=True)
    rest = client.get("/v1/compliance", params={"profile": "amazon", "offset": 2}).json()
    assert len(rest["items"]) == 1
    assert "min-size" in page["items"][0]["rules"]
    assert client.get("/v1/compliance", params={"profile": "zalando"}).json()["total"] == 0


def test_unknown_profile_and_product_are_problems(client: TestClient) -> None:
    pid = _product_ids(client, 1)[0]
    body = assert_problem(
        client.get(f"/v1/products/{pid}/compliance", params={"profile": "ebay"}), 404
    )
    assert "amazon" in body["detail"]
    assert_problem(client.get("/v1/compliance", params={"profile": "ebay"}), 404)
    assert_problem(client.get("/v1/products/999999/compliance", params={"profile": "amazon"}), 404)
    assert_problem(client.get("/v1/compliance", params={"profile": "../etc/x"}), 422)
    assert_problem(client.get("/v1/compliance"), 422)


def test_a_profile_name_is_never_read_as_a_path(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mine.yaml").write_text("rules: []\n", encoding="utf-8")
    assert_problem(client.get("/v1/compliance", params={"profile": "mine.yaml"}), 404)


def test_a_broken_saved_profile_does_not_leak_its_path(
    client: TestClient, api_settings: Settings
) -> None:
    api_settings.profiles_dir.mkdir(parents=True, exist_ok=True)
    (api_settings.profiles_dir / "ours.yaml").write_text("rules: [{id: a, kind: fill}]\n")
    body = assert_problem(client.get("/v1/compliance", params={"profile": "ours"}), 400)
    assert "ours" in body["detail"]
    assert str(api_settings.resolved_data_dir) not in body["detail"]
    assert "profiles" not in body["detail"].replace("modiste check --profile", "")


def test_a_private_catalog_needs_a_read_key(api_settings: Settings) -> None:
    from modiste.api import create_app
    from modiste.catalog.api_keys import create_key

    app = create_app(api_settings.model_copy(update={"api_public_read": False}))
    with TestClient(app) as c:
        with app.state.db.session() as session:
            _, key = create_key(session, "reader", "read")
        assert_problem(c.get("/v1/compliance", params={"profile": "amazon"}), 401)
        ok = c.get("/v1/compliance", params={"profile": "amazon"}, headers={"X-API-Key": key})
        assert ok.status_code == 200, ok.text
    app.state.db.dispose()
