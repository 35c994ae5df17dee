from __future__ import annotations

from fastapi.testclient import TestClient

from .support import assert_problem


def test_list_filters_and_pages(client: TestClient) -> None:
    everything = client.get("/v1/products", params={"limit": 200}).json()
    assert everything["total"] == 18
    page = client.get("/v1/products", params={"limit": 5, "offset": 5}).json()
    assert [p["id"] for p in page["items"]] == [p["id"] for p in everything["items"][5:10]]
    jackets = client.get("/v1/products", params={"type": "Women/Tops/Jackets"}).json()
    assert jackets["total"] == 2  # the Luma jacket and its resale; not the men's jacket
    assert all(p["product_type"] == "Women/Tops/Jackets" for p in jackets["items"])
    tops = client.get("/v1/products", params={"type": "men / tops"}).json()
    assert tops["items"] and all(p["product_type"].startswith("Men/Tops/") for p in tops["items"])
    assert client.get("/v1/products", params={"type": "jacket"}).json()["total"] == 0
    shop = client.get("/v1/products", params={"seller": "Second-hand Shop", "max_price": 20}).json()
    assert shop["items"] and all(p["seller"] == "Second-hand Shop" for p in shop["items"])
    assert all(p["price"] <= 20 for p in shop["items"])


def test_get_and_missing(client: TestClient) -> None:
    first = client.get("/v1/products", params={"limit": 1}).json()["items"][0]
    got = client.get(f"/v1/products/{first['id']}").json()
    assert got["title"] == first["title"]
    assert got["images"][0]["url"] == f"/v1/images/{got['images'][0]['id']}"
    assert_problem(client.get("/v1/products/999999"), 404)
    assert_problem(client.get("/v1/nowhere"), 404)
    body = assert_problem(client.get("/v1/products", params={"limit": "x"}), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"]


def test_writes_need_a_key(client: TestClient, api_key: str) -> None:
    new = {"external_id": "n-1", "title": "Linen shirt", "price": 30}
    assert_problem(client.post("/v1/products", json=new), 401)
    assert_problem(client.post("/v1/products", json=new, headers={"X-API-Key": "mk_x_y"}), 401)
    created = client.post("/v1/products", json=new, headers={"Authorization": f"Bearer {api_key}"})
    assert created.status_code == 201, created.text
    assert created.json()["seller"] == "default"


def test_create_update_delete(client: TestClient, auth: dict[str, str]) -> None:
    body = {
        "seller": "Test shop",
        "external_id": "t-1",
        "title": "Wool coat",
        "product_type": "Coats",
        "images": ["https://example.com/coat.jpg"],
    }
    created = client.post("/v1/products", json=body, headers=auth).json()
    assert created["images"][0]["status"] == "pending"
    assert_problem(client.post("/v1/products", json=body, headers=auth), 400)  # same id twice
    pid = created["id"]
    changed = client.patch(f"/v1/products/{pid}", json={"gender": "Women", "price": 120},
                           headers=auth).json()  # fmt: skip
    assert (changed["gender"], changed["price"], changed["gender_confidence"]) == (
        "Women",
        120,
        1.0,
    )
    assert changed["title"] == "Wool coat"  # untouched fields stay
    # NaN and Infinity are not JSON: refused, not stored as non-standard text.
    nan = '{"attributes": {"weight": NaN}}'
    sent = {**auth, "Content-Type": "application/json"}
    assert_problem(client.patch(f"/v1/products/{pid}", content=nan, headers=sent), 422)
    assert client.get(f"/v1/products/{pid}").json()["gender"] == "Women"
    assert_problem(client.patch(f"/v1/products/{pid}", json={"price": -1}, headers=auth), 422)
    assert_problem(client.patch(f"/v1/products/{pid}", json={"nope": 1}, headers=auth), 422)
    assert client.delete(f"/v1/products/{pid}", headers=auth).status_code == 204
    assert_problem(client.get(f"/v1/products/{pid}"), 404)
    assert_problem(client.delete(f"/v1/products/{pid}", headers=auth), 404)


def test_local_paths_are_not_accepted_as_images(client: TestClient, auth: dict[str, str]) -> None:
    body = {"external_id": "t-2", "images": ["/etc/passwd"]}
    assert_problem(client.post("/v1/products", json=body, headers=auth), 422)


def test_gallery_order_is_stored(client: TestClient, auth: dict[str, str]) -> None:
    pid = client.get("/v1/products", params={"q": "Stellar"}).json()["items"][0]["id"]
    before = client.get(f"/v1/products/{pid}/images").json()
    assert [i["rank"] for i in before] == list(range(1, len(before) + 1))
    wanted = [i["id"] for i in reversed(before)]
    saved = client.put(f"/v1/products/{pid}/images/order", json={"image_ids": wanted}, headers=auth)
    assert saved.status_code == 200, saved.text
    after = client.get(f"/v1/products/{pid}/images").json()
    assert [i["id"] for i in after] == wanted
    assert {i["reason"] for i in after} == {"set by hand"}
    bad = client.put(
        f"/v1/products/{pid}/images/order", json={"image_ids": wanted[:1]}, headers=auth
    )
    assert_problem(bad, 400)


def test_pages_answer_html_errors_to_browsers(client: TestClient) -> None:
    page = client.get("/products/999999", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no product 999999" in page.text
    assert_problem(client.get("/v1/products/999999", headers={"Accept": "text/html"}), 404)
    typed = client.get("/review/abc", headers={"Accept": "text/html"})  # not a product id
    assert typed.status_code == 404 and typed.headers["content-type"].startswith("text/html")
    assert "There is no page at this address" in typed.text and "int_parsing" not in typed.text
    assert_problem(client.get("/v1/products/abc", headers={"Accept": "text/html"}), 422)


def test_pages_render(client: TestClient) -> None:
    pid = client.get("/v1/products", params={"q": "Stellar"}).json()["items"][0]["id"]
    for path in ("/", f"/products/{pid}", "/catalog?sort=shot", f"/review/{pid}", "/duplicates"):
        res = client.get(path)
        assert res.status_code == 200 and "<main" in res.text, path
    assert "Stellar Solar Jacket" in client.get(f"/products/{pid}").text


def test_duplicates_page_pages_through_every_group(client: TestClient) -> None:
    import re

    from sqlalchemy import delete

    from modiste.catalog.schema import DuplicateGroup, DuplicateMember

    db = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        made = [
            DuplicateGroup(kind="near", members=[DuplicateMember(product_id=1)]) for _ in range(35)
        ]
        s.add_all(made)
        s.flush()
        ids = [g.id for g in made]
    try:
        total = client.get("/v1/duplicates").json()["total"]
        first, second = client.get("/duplicates"), client.get("/duplicates?page=2")
        on_page = [re.findall(r'data-group-id="(\d+)"', p.text) for p in (first, second)]
        assert len(on_page[0]) == 30 and len(on_page[0]) + len(on_page[1]) == total
        assert not set(on_page[0]) & set(on_page[1])
        assert 'href="/duplicates?page=2"' in first.text and "page 2 of 2" in second.text
    finally:
        with db.session() as s:
            s.execute(delete(DuplicateGroup).where(DuplicateGroup.id.in_(ids)))


def test_openapi_documents_errors_as_they_are_sent(
    client: TestClient, auth: dict[str, str]
) -> None:

    spec = client.get("/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    op = spec["paths"]["/v1/products/{product_id}"]["patch"]
    assert {"400", "401", "404", "422"} <= set(op["responses"])
    assert list(op["responses"]["422"]["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # Real answers match what is documented.
    for res in (
        client.patch("/v1/products/1", json={"price": -5}, headers=auth),  # 422
        client.patch("/v1/products/999999", json={"price": 5}, headers=auth),  # 404
        client.patch("/v1/products/1", json={"price": 5}),  # 401
    ):
        assert str(res.status_code) in op["responses"], res.status_code
        assert res.headers["content-type"] == "application/problem+json"
        body = res.json()
        assert set(problem["required"]) <= set(body)
        kinds = {"string": str, "integer": int, "array": list}
        for key, value in body.items():
            assert isinstance(value, kinds[problem["properties"][key]["type"]]), key
