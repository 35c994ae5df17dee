"""Photo uploads (size cap, sniffing, decode) and the search routes."""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from modiste.api import create_app, uploads
from modiste.catalog.schema import ProductRow

from .support import DEMO, assert_problem


def _jpeg(size: tuple[int, int] = (64, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 40, 60)).save(buf, format="JPEG")
    return buf.getvalue()


def test_upload_refusals(client: TestClient) -> None:
    text = {"file": ("notes.jpg", b"just some text, not a picture", "image/jpeg")}
    assert (
        "not a JPEG" in assert_problem(client.post("/v1/search/image", files=text), 415)["detail"]
    )
    broken = {"file": ("cut.jpg", _jpeg()[:60], "image/jpeg")}
    assert_problem(client.post("/v1/search/image", files=broken), 422)
    assert_problem(client.post("/v1/search/image"), 422)  # no file at all
    many = [("files", ("a.txt", b"hello", "text/plain"))]
    assert_problem(client.post("/v1/galleries/sort", files=many), 415)


def test_upload_size_cap(api_settings) -> None:  # type: ignore[no-untyped-def]
    small = api_settings.model_copy(update={"api_max_upload_bytes": 2000})
    assert uploads.max_upload_bytes(small) == 2000
    with TestClient(create_app(small)) as client:
        big = {"file": ("big.jpg", _jpeg((400, 400)) + b"\0" * 3000, "image/jpeg")}
        assert_problem(client.post("/v1/search/image", files=big), 413)
        huge = {"file": ("huge.jpg", b"\xff\xd8\xff" + b"\0" * 20_000, "image/jpeg")}
        assert_problem(client.post("/v1/search/image", files=huge), 413)  # whole body over cap


def test_image_search_answers_or_is_not_available(client: TestClient) -> None:
    photo = (DEMO / "images" / "wj01-red_main.jpg").read_bytes()
    res = client.post("/v1/search/image", files={"file": ("me.jpg", photo, "image/jpeg")})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["width"] > 0 and body["objects"]
    for obj in body["objects"]:
        assert obj["box"]["x2"] > obj["box"]["x1"] and obj["label"]


def test_similar_checks_the_product_first(client: TestClient) -> None:
    assert_problem(client.get("/v1/products/999999/similar"), 404)
    pid = client.get("/v1/products", params={"limit": 1}).json()["items"][0]["id"]
    res = client.get(f"/v1/products/{pid}/similar")
    assert res.status_code == 200, res.text
    assert all(h["product_id"] != pid for h in res.json()["hits"])


def test_text_search(client: TestClient) -> None:
    res = client.get("/v1/search/text", params={"q": "jacket"}).json()
    titles = [h["product"]["title"] for h in res["hits"]]
    assert "Stellar Solar Jacket" in titles
    assert res["hits"][0]["product"]["thumb_url"].startswith("/v1/images/")
    cheap = client.get("/v1/search/text", params={"q": "jacket", "max_price": 50}).json()
    assert all(h["product"]["price"] <= 50 for h in cheap["hits"])
    assert_problem(client.get("/v1/search/text"), 422)
    # Text search reads the catalog only: the image models (seconds to load) stay unloaded.
    assert client.app.state.search._service is None  # type: ignore[attr-defined]


def test_category_filter_is_a_path_everywhere(api_settings) -> None:  # type: ignore[no-untyped-def]
    """Issue #14 item 2: "Men/Tops/Jackets" also returned the women's jacket (a substring)."""
    # the category is tested here, not the relevance floor (the red women's jacket photo is no
    # close match for the black men's one): every hit is offered
    every = api_settings.model_copy(
        update={"search_min_score_photo": -1.0, "search_min_score_similar": -1.0}
    )
    with TestClient(create_app(every)) as client:
        _category_is_a_path(client)


def _category_is_a_path(client: TestClient) -> None:
    men = {"q": "jacket", "category": "Men/Tops/Jackets"}
    titles = {
        h["product"]["title"] for h in client.get("/v1/search/text", params=men).json()["hits"]
    }
    assert titles == {"Montana Wind Jacket"}
    tops = client.get("/v1/search/text", params={"q": "jacket", "category": "women"}).json()
    assert {h["product"]["product_type"] for h in tops["hits"]} == {"Women/Tops/Jackets"}
    photo = (DEMO / "images" / "wj01-red_main.jpg").read_bytes()
    res = client.post(
        "/v1/search/image", files={"file": ("me.jpg", photo, "image/jpeg")}, data=men
    ).json()
    hits = [h for obj in res["objects"] for h in obj["hits"]]
    assert hits and {h["product"]["product_type"] for h in hits} == {"Men/Tops/Jackets"}
    pid = client.get("/v1/products", params={"q": "Stellar"}).json()["items"][0]["id"]
    similar = client.get(f"/v1/products/{pid}/similar", params={"category": "Men"}).json()
    assert all(h["product"]["product_type"].startswith("Men/") for h in similar["hits"])
    # The search page offers the catalog's categories, with every level above them.
    page = client.get("/", headers={"accept": "text/html"}).text
    for value in ("Men", "Men/Tops", "Men/Tops/Jackets", "Gear/Bags", "T-Shirt"):
        assert f'<option value="{value}">' in page


def test_search_page_lists_each_gender_once_with_labels(client: TestClient) -> None:
    """Issue #14 item 11: the demo's feeds say "women"/"men", the categorizer "Women"/"Men"."""
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        for pid, gender in (("cd-ea7b6656", "Men"), ("cd-e3c8e575", "WOMEN'S")):
            s.execute(update(ProductRow).where(ProductRow.external_id == pid).values(gender=gender))
    page = client.get("/", headers={"accept": "text/html"}).text
    start = page.index('name="gender"')
    options = re.findall(
        r'<option value="([^"]*)">([^<]*)<', page[start : page.index("</sel", start)]
    )
    assert options[:3] == [("", "Any"), ("women", "Women"), ("men", "Men")]
    assert len({label for _, label in options}) == len(options)  # each once
    assert all(value == value.lower() for value, _ in options)
    men = client.get("/v1/search/text", params={"q": "jacket", "gender": "men"}).json()
    assert {h["product"]["title"] for h in men["hits"]} == {"Montana Wind Jacket"}


def test_gallery_sort(client: TestClient) -> None:
    names = ["wj01-red_back.jpg", "wj01-red_main.jpg", "wj01-red_alt1.jpg"]
    files = [("files", (n, (DEMO / "images" / n).read_bytes(), "image/jpeg")) for n in names]
    res = client.post("/v1/galleries/sort", files=files, data={"category": "Women/Tops/Jackets"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert [i["key"] for i in body["items"]] == [
        "wj01-red_main.jpg",
        "wj01-red_back.jpg",
        "wj01-red_alt1.jpg",
    ]  # front, back, close-up: the default regulation
    assert [i["position"] for i in body["items"]] == [1, 0, 2]
    assert all(i["reason"] for i in body["items"])
    # Pasted photos often share a name: position tells them apart.
    same = [("files", ("image.jpg", data, "image/jpeg")) for _, (_, data, _) in files]
    body = client.post("/v1/galleries/sort", files=same).json()
    assert sorted(i["position"] for i in body["items"]) == [0, 1, 2]


def test_regulations(client: TestClient, auth: dict[str, str], api_settings) -> None:  # type: ignore[no-untyped-def]
    names = [r["name"] for r in client.get("/v1/regulations").json()]
    assert "default" in names
    default = client.get("/v1/regulations/default").json()
    assert default["yaml"].startswith("name: default")
    assert_problem(client.get("/v1/regulations/nope"), 404)
    mine = "order: [far_front, near_front, back]\ndescription: Fronts first\n"
    assert_problem(client.put("/v1/regulations/mine", json={"yaml": mine}), 401)
    saved = client.put("/v1/regulations/mine", json={"yaml": mine}, headers=auth)
    assert saved.status_code == 200, saved.text
    assert Path(api_settings.resolved_data_dir / "regulations" / "mine.yaml").is_file()
    assert "mine" in [r["name"] for r in client.get("/v1/regulations").json()]
    typo = client.put("/v1/regulations/bad", json={"yaml": "order: [far_frnt]"}, headers=auth)
    assert "far_frnt" in assert_problem(typo, 400)["detail"]
    broken = client.put("/v1/regulations/bad", json={"yaml": "order: [a"}, headers=auth)
    assert_problem(broken, 400)
    other = client.put("/v1/regulations/x", json={"yaml": "name: y\norder: [back]"}, headers=auth)
    assert_problem(other, 400)


def test_search_commands_take_the_shared_filters(api_settings) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    import modiste.cli.search  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    args = ["--data-dir", str(api_settings.data_dir), "search", "text", "jacket", "--json"]
    runner = CliRunner()
    every = json.loads(runner.invoke(app, args).stdout)
    assert "Stellar Solar Jacket" in [h["title"] for h in every["hits"]]
    cheap = runner.invoke(app, [*args, "--max-price", "50", "--gender", "Women"])
    assert cheap.exit_code == 0, cheap.output
    hits = json.loads(cheap.stdout)["hits"]
    assert len(hits) < len(every["hits"])
    assert all(h["product"]["price"] <= 50 for h in hits)
    assert all(h["product"]["gender"] == "Women" for h in hits)
    helped = runner.invoke(app, ["search", "product", "--help"], env={"COLUMNS": "200"})
    assert "Only this seller's products." in helped.stdout


def test_a_chunked_upload_is_cut_at_the_cap(api_settings) -> None:  # type: ignore[no-untyped-def]
    """No Content-Length (chunked): the body is counted as it arrives and refused at the cap,
    not spooled to disk in full first."""
    import asyncio

    small = api_settings.model_copy(update={"api_max_upload_bytes": 2000})
    app = create_app(small)
    cap = 2000 * 8  # the request cap: a few photos per request
    head = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff"
    )
    chunks = [head, *([b"\0" * 4096] * 100), b"\r\n--XyZ--\r\n"]  # ~400 KB in all
    pulled, answers = [0], []

    async def receive() -> dict:
        body = chunks.pop(0) if chunks else b""
        pulled[0] += len(body)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        answers.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/search/image", "raw_path": b"/v1/search/image",
        "root_path": "", "query_string": b"", "client": ("127.0.0.1", 1), "server": ("t", 80),
        "headers": [(b"content-type", b"multipart/form-data; boundary=XyZ"), (b"host", b"t")],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in answers if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert b"payload-too-large" in b"".join(m.get("body", b"") for m in answers)
    assert pulled[0] <= cap + 4096  # read up to the cap, not the whole 400 KB
