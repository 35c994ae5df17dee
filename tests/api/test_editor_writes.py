"""Editor and review writes (issue #14 item 17): bulk edit, hide a photo, reset the order."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modiste.catalog.api_keys import create_key
from modiste.config import Settings
from modiste.pipeline.ingest import run_ingest

from .support import assert_problem


def _write_key(client: TestClient) -> dict[str, str]:
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        _, key = create_key(session, "editor", "write")
    return {"X-API-Key": key}


def _ids(client: TestClient, q: str) -> list[int]:
    return [p["id"] for p in client.get("/v1/products", params={"q": q}).json()["items"]]


def test_bulk_edit_sets_type_and_gender_for_every_listed_product(client: TestClient) -> None:
    write = _write_key(client)
    ids = _ids(client, "Second-hand")[:3]
    body = {"ids": ids, "changes": {"product_type": "Women/Tops/Tees", "gender": "women"}}
    assert_problem(client.patch("/v1/products", json=body), 401)  # a write needs a key
    done = client.patch("/v1/products", json=body, headers=write)
    assert done.status_code == 200, done.text
    assert [p["id"] for p in done.json()] == ids
    for pid in ids:
        p = client.get(f"/v1/products/{pid}").json()
        assert (p["product_type"], p["gender"]) == ("Women/Tops/Tees", "women")
        assert p["product_type_confidence"] == 1.0  # a person's value is certain


def test_bulk_edit_with_an_unknown_id_changes_nothing(client: TestClient) -> None:
    write = _write_key(client)
    pid = _ids(client, "Capri")[0]
    before = client.get(f"/v1/products/{pid}").json()["product_type"]
    bad = {"ids": [pid, 999_999], "changes": {"product_type": "Men/Tops"}}
    body = assert_problem(client.patch("/v1/products", json=bad, headers=write), 404)
    assert "999999" in body["detail"]
    assert client.get(f"/v1/products/{pid}").json()["product_type"] == before
    empty = {"ids": [pid], "changes": {}}
    assert_problem(client.patch("/v1/products", json=empty, headers=write), 400)
    many = {"ids": list(range(1, 300)), "changes": {"brand": "x"}}
    assert_problem(client.patch("/v1/products", json=many, headers=write), 422)


def test_a_hidden_photo_leaves_the_gallery_and_comes_back(
    client: TestClient, api_settings: Settings
) -> None:
    write = _write_key(client)
    pid = _ids(client, "Montana")[0]
    photos = client.get(f"/v1/products/{pid}/images").json()
    first = photos[0]["id"]
    assert_problem(client.put(f"/v1/images/{first}/hidden", json={"hidden": True}), 401)
    hid = client.put(f"/v1/images/{first}/hidden", json={"hidden": True}, headers=write)
    assert hid.status_code == 200, hid.text
    assert hid.json()["in_gallery"] is False and hid.json()["reason"] == "hidden by hand"
    after = client.get(f"/v1/products/{pid}/images").json()
    assert after[-1]["id"] == first  # listed last, kept in the store
    assert client.get(f"/v1/images/{first}").status_code == 200
    page = client.get(f"/products/{pid}").text
    assert f"/v1/images/{first}/" not in page  # not on the shopper's page
    # a new label re-runs the shots stage, whose placement policy must not show it again
    client.put(f"/v1/images/{first}/shot", json={"label": "near_back"}, headers=write)
    run_ingest(api_settings, client.app.state.db, stages=["shots"])  # type: ignore[attr-defined]
    again = {i["id"]: i for i in client.get(f"/v1/products/{pid}/images").json()}
    assert again[first]["in_gallery"] is False and again[first]["label"] == "near_back"
    back = client.put(f"/v1/images/{first}/hidden", json={"hidden": False}, headers=write)
    assert back.json()["in_gallery"] is not False
    assert f"/v1/images/{first}/" in client.get(f"/products/{pid}").text
    assert_problem(
        client.put("/v1/images/999999/hidden", json={"hidden": True}, headers=write), 404
    )


def test_reset_to_the_automatic_order(client: TestClient) -> None:
    write = _write_key(client)
    pid = _ids(client, "Montana")[0]
    auto = [i["id"] for i in client.get(f"/v1/products/{pid}/images").json()]
    by_hand = list(reversed(auto))
    client.put(f"/v1/products/{pid}/images/order", json={"image_ids": by_hand}, headers=write)
    assert [i["id"] for i in client.get(f"/v1/products/{pid}/images").json()] == by_hand
    assert_problem(client.delete(f"/v1/products/{pid}/images/order"), 401)
    reset = client.delete(f"/v1/products/{pid}/images/order", headers=write)
    assert reset.status_code == 200, reset.text
    assert [i["id"] for i in reset.json()] == auto
    assert "set by hand" not in {i["reason"] for i in reset.json()}
    assert_problem(client.delete("/v1/products/999999/images/order", headers=write), 404)


def test_offers_list_the_same_item_from_other_shops(client: TestClient) -> None:
    """Issue #14 item 7 for API users: what the product page shows as "Also sold by"."""
    group = client.get("/v1/duplicates", params={"kind": "offer"}).json()["items"][0]
    a, b = (m["product_id"] for m in group["members"])
    offers = client.get(f"/v1/products/{a}/offers").json()
    assert [o["id"] for o in offers] == [b] and offers[0]["price"] is not None
    assert client.get(f"/v1/products/{_ids(client, 'Capri')[0]}/offers").json() == []
    assert_problem(client.get("/v1/products/999999/offers"), 404)
    write = _write_key(client)
    client.post(f"/v1/duplicates/{group['id']}/split", headers=write)
    assert client.get(f"/v1/products/{a}/offers").json() == []  # a split group is no offer
