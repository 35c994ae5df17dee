from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from .support import assert_problem


def _stored_image(client: TestClient) -> dict:
    product = client.get("/v1/products", params={"q": "Stellar"}).json()["items"][0]
    return next(i for i in product["images"] if i["status"] == "stored")


def test_bytes_and_thumbnails(client: TestClient) -> None:
    img = _stored_image(client)
    original = client.get(img["url"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(original.content)).size == (img["width"], img["height"])
    thumb = client.get(f"/v1/images/{img['id']}/thumb", params={"size": 100})
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) == 128
    again = client.get(f"/v1/images/{img['id']}/thumb", params={"size": 100},
                       headers={"If-None-Match": thumb.headers["etag"]})  # fmt: skip
    assert again.status_code == 304
    assert_problem(client.get(f"/v1/images/{img['id']}/thumb", params={"size": 5000}), 422)
    assert_problem(client.get("/v1/images/999999"), 404)


def test_shot_label_is_stored_and_exported(
    client: TestClient, auth: dict[str, str], api_settings
) -> None:  # type: ignore[no-untyped-def]
    img = _stored_image(client)
    assert_problem(client.put(f"/v1/images/{img['id']}/shot", json={"label": "back"}), 401)
    bad = client.put(f"/v1/images/{img['id']}/shot", json={"label": "nonsense"}, headers=auth)
    assert "valid:" in assert_problem(bad, 400)["detail"]
    assert client.get(f"/v1/images/{img['id']}/shot").status_code == 405  # write-only
    candidate = "near_back"
    res = client.put(f"/v1/images/{img['id']}/shot", json={"label": candidate}, headers=auth)
    assert res.status_code == 200, res.text
    assert res.json()["label_source"] == "human" and res.json()["confidence"] == 1.0
    corrections = api_settings.resolved_data_dir / "corrections"
    files = list(corrections.glob("*/*.jpg"))
    assert [f.parent.name for f in files] == [candidate]
    export = client.post("/v1/corrections/export", headers=auth).json()
    assert export["written"] == 1
    gallery = client.get(f"/v1/products/{_product_of(client, img['id'])}/images").json()
    assert any(i["id"] == img["id"] and i["label"] == candidate for i in gallery)
    # The answer's rank is the gallery's, where hidden and failed photos come last: with the
    # first photo failed, the one after it is shown first.
    from modiste.catalog.schema import ImageRow

    first, second = gallery[0]["id"], gallery[1]["id"]
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s:
        s.get(ImageRow, first).status = "failed"
    try:
        res = client.put(f"/v1/images/{second}/shot", json={"label": candidate}, headers=auth)
        shown = client.get(f"/v1/products/{_product_of(client, second)}/images").json()
        assert shown[0]["id"] == second
        assert res.json()["rank"] == 1
    finally:
        with db.session() as s:
            s.get(ImageRow, first).status = "stored"


def _product_of(client: TestClient, image_id: int) -> int:
    for p in client.get("/v1/products", params={"limit": 200}).json()["items"]:
        if any(i["id"] == image_id for i in p["images"]):
            return int(p["id"])
    raise AssertionError(image_id)
