"""Key scopes per route (403 without), no keys in query strings, no cross-site writes (CSRF)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from modiste.api import create_app
from modiste.catalog.api_keys import create_key
from modiste.config import Settings
from modiste.web.routes import HERE as WEB

from .support import assert_problem

# POSTs that compute an answer from the upload and change nothing: reads, like GETs.
READ_ONLY_POSTS = {"/v1/search/image", "/v1/galleries/sort"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def keys(client: TestClient) -> dict[str, dict[str, str]]:
    """A header per scope."""
    out = {}
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        for scope in ("read", "write", "admin"):
            _, key = create_key(s, f"key-{scope}", scope)
            out[scope] = {"X-API-Key": key}
    return out


def test_each_route_needs_its_scope(client: TestClient) -> None:
    k = keys(client)
    pid = client.get("/v1/products").json()["items"][0]["id"]
    regulation = {"yaml": "order: [far_front, near_front, back]\n"}

    # read: refused every change, with problem+json that names the scope and nothing internal
    body = assert_problem(
        client.patch(f"/v1/products/{pid}", json={"brand": "R"}, headers=k["read"]), 403
    )
    assert "'write' scope" in body["detail"] and k["read"]["X-API-Key"] not in body["detail"]
    assert_problem(client.post("/v1/corrections/export", headers=k["read"]), 403)
    assert_problem(client.post("/v1/duplicates/1/confirm", headers=k["read"]), 403)

    # write: catalog edits yes; regulations, ingest jobs and deletes no
    assert (
        client.patch(f"/v1/products/{pid}", json={"brand": "W"}, headers=k["write"]).status_code
        == 200
    )
    assert client.post("/v1/corrections/export", headers=k["write"]).status_code == 200
    body = assert_problem(
        client.put("/v1/regulations/mine", json=regulation, headers=k["write"]), 403
    )
    assert "'admin' scope" in body["detail"]
    assert_problem(
        client.post("/v1/jobs/ingest", json={"stages": ["store"]}, headers=k["write"]), 403
    )
    assert_problem(client.get("/v1/jobs", headers=k["write"]), 403)
    assert_problem(client.delete(f"/v1/products/{pid}", headers=k["write"]), 403)
    assert client.get(f"/v1/products/{pid}").status_code == 200  # nothing was lost

    # admin: everything
    assert (
        client.put("/v1/regulations/mine", json=regulation, headers=k["admin"]).status_code == 200
    )
    assert client.get("/v1/jobs", headers=k["admin"]).status_code == 200
    assert client.delete(f"/v1/products/{pid}", headers=k["admin"]).status_code == 204
    # Bearer carries scopes the same way
    bearer = {"Authorization": f"Bearer {k['write']['X-API-Key']}"}
    assert_problem(client.get("/v1/jobs", headers=bearer), 403)


def test_openapi_names_the_scope_of_each_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def scopes(path: str, method: str) -> set[str]:
        op = paths[path][method]
        assert "403" in op["responses"] or not any(v for r in op["security"] for v in r.values())
        return {s for req in op["security"] for s in next(iter(req.values()))}

    assert scopes("/v1/products/{product_id}", "patch") == {"write"}
    assert scopes("/v1/products/{product_id}", "delete") == {"admin"}
    assert scopes("/v1/regulations/{name}", "put") == {"admin"}
    assert scopes("/v1/jobs/ingest", "post") == {"admin"}
    assert scopes("/v1/jobs", "get") == {"admin"}
    assert scopes("/v1/products", "get") == set()
    assert "403" not in paths["/v1/products"]["get"]["responses"]


def test_keys_in_the_query_string_are_never_accepted(api_settings: Settings) -> None:
    private = api_settings.model_copy(update={"api_public_read": False})
    with TestClient(create_app(private)) as client:
        key = keys(client)["admin"]["X-API-Key"]
        for name in ("api_key", "key", "apikey", "token", "access_token"):
            body = assert_problem(client.get("/v1/products", params={name: key}), 401)
            assert "query string" in body["detail"] and key not in body["detail"]
            assert_problem(client.post("/v1/corrections/export", params={name: key}), 401)
        assert client.get("/v1/products", headers={"X-API-Key": key}).status_code == 200


def _state_changing() -> list[tuple[str, str]]:
    """Every non-read route of every module under modiste.api.routes (new ones included)."""
    import importlib
    import pkgutil

    import modiste.api.routes as package

    routes = []
    for info in pkgutil.iter_modules(package.__path__):
        router = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            path = "/v1" + route.path
            for method in getattr(route, "methods", set()) & STATE_CHANGING:
                if path not in READ_ONLY_POSTS:
                    routes.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return routes


def test_a_cross_site_form_cannot_change_anything(client: TestClient) -> None:
    # What a hostile page can make a browser send: a form post (urlencoded or multipart) with
    # the site's cookies, no custom header. Even if the read cookie held an admin key (and
    # SameSite=Strict let it through), no state-changing route accepts it.
    client.cookies.set("modiste_key", keys(client)["admin"]["X-API-Key"])
    routes = _state_changing()
    assert len(routes) >= 9, routes
    before = client.get("/v1/products").json()["total"]
    for method, path in routes:
        for extra in ({"data": {"title": "pwned"}}, {"files": {"file": ("a.jpg", b"x")}}):
            res = client.request(method, path, headers={"Origin": "https://evil.example"}, **extra)  # type: ignore[arg-type]
            assert_problem(res, 401)
    assert client.get("/v1/products").json()["total"] == before


def test_the_web_ui_has_no_form_posts_of_its_own() -> None:
    # Every change in the UI is a fetch() with the X-API-Key header (app.js); a page route
    # that accepted a POST, or a template form that posted, would need a CSRF token first.
    from modiste.web.routes import router

    pages = [r for r in router.routes if isinstance(r, APIRoute)]
    assert pages and all(set(r.methods or ()) <= {"GET", "HEAD"} for r in pages)
    for template in (WEB / "templates").glob("*.html"):
        html = template.read_text(encoding="utf-8").lower()
        assert 'method="post"' not in html and "method=post" not in html, template.name
    # the key box's input has no name: a submit without the script would put it in the URL
    assert re.search(
        r'<input id="api-key"(?![^>]*\bname=)[^>]*>', (WEB / "templates" / "base.html").read_text()
    )


def test_private_pages_open_with_a_read_key_and_edits_need_write(api_settings: Settings) -> None:
    private = api_settings.model_copy(update={"api_public_read": False})
    html = {"Accept": "text/html"}
    with TestClient(create_app(private)) as client:
        k = keys(client)
        client.cookies.set("modiste_key", k["read"]["X-API-Key"])
        for page in ("/", "/catalog", "/duplicates"):
            assert client.get(page, headers=html).status_code == 200, page
        pid = client.get("/v1/products").json()["items"][0]["id"]
        assert client.get(f"/review/{pid}", headers=html).status_code == 200
        assert_problem(
            client.patch(f"/v1/products/{pid}", json={"brand": "x"}, headers=k["read"]), 403
        )
        assert (
            client.patch(f"/v1/products/{pid}", json={"brand": "x"}, headers=k["write"]).status_code
            == 200
        )


def test_keys_cli_scopes(api_settings: Settings) -> None:
    import modiste.cli.serve  # noqa: F401  (registers the commands)
    from modiste.cli._apps import app

    runner = CliRunner()
    args = ["--data-dir", str(api_settings.data_dir), "keys"]
    assert runner.invoke(app, [*args, "create", "ops", "--scope", "admin"]).exit_code == 0
    assert runner.invoke(app, [*args, "create", "shop"]).exit_code == 0
    bad = runner.invoke(app, [*args, "create", "x", "--scope", "root"])
    assert bad.exit_code != 0 and "root" in bad.output
    listed = runner.invoke(app, [*args, "list"], terminal_width=200)
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if "│" in line}
    assert "read write admin" in rows["ops"] and "never" in rows["shop"]
    assert "read write" in rows["shop"] and "admin" not in rows["shop"]
