"""The interactive API docs at /docs, served from this server alone (issue #14 item 4).

FastAPI's own page loads Swagger UI from a CDN, so it is blank on a machine without internet,
which is where Modiste runs. The Swagger UI files come from the installed ``fastapi-offline``
package (a bundled swagger-ui-dist 5, which reads OpenAPI 3.1), and the page starts them from
``static/docs-init.js``: no inline script, so the docs keep the same ``'self'`` policy as the
rest of the UI (``api/headers.py``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from modiste import __version__

DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"


def swagger_assets_dir() -> Path:
    """The folder of swagger-ui-bundle.js and swagger-ui.css in the installed package."""
    return Path(str(files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve the Swagger UI page at ``DOCS_URL`` and its files under ``ASSETS_URL``."""
    app.mount(ASSETS_URL, StaticFiles(directory=swagger_assets_dir()), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        templates = request.app.state.templates
        context = {"openapi_url": openapi_url, "assets": ASSETS_URL, "version": __version__}
        return templates.TemplateResponse(request, "docs.html", context)  # type: ignore[no-any-return]
