"""The HTTP API: ``create_app(settings)`` builds a FastAPI app serving /v1 and the web UI."""

from modiste.api.app import create_app

__all__ = ["create_app"]
