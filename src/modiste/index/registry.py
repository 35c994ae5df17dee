"""Backend registry and factory: ``create_index("faiss", dim=1280, path=...)``.

Backends register a class with a ``(dim, path, **kw)`` constructor and an ``open(path, dim, **kw)``
classmethod. Built-in backends are imported on first use, so importing ``modiste.index`` stays
cheap (FAISS and qdrant-client are only imported when an index is built).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from modiste.errors import VectorIndexError
from modiste.index.base import VectorIndex

_BUILTIN = {
    "faiss": "modiste.index.faiss_index",
    "qdrant": "modiste.index.qdrant_index",
}
_CLASSES = {"faiss": "FaissIndex", "qdrant": "QdrantIndex"}
_REGISTRY: dict[str, Any] = {}
T = TypeVar("T")


def register_index_backend(name: str) -> Callable[[T], T]:
    """Class decorator adding a backend under ``name`` (for third-party backends)."""

    def deco(cls: T) -> T:
        _REGISTRY[name] = cls
        return cls

    return deco


def list_index_backends() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def _backend(name: str) -> Any:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _BUILTIN:
        raise VectorIndexError(
            f"unknown index backend {name!r}; valid: {', '.join(list_index_backends())}"
        )
    module = importlib.import_module(_BUILTIN[name])
    _REGISTRY[name] = getattr(module, _CLASSES[name])
    return _REGISTRY[name]


def create_index(backend: str, dim: int, path: Path | None = None, **kw: Any) -> VectorIndex:
    """Open the index stored at ``path`` or create an empty one (in memory when ``path`` is None).

    Opening checks the stored dimension against ``dim`` and raises on a mismatch, so a catalog
    that changed backbone cannot silently mix embedding spaces.
    """
    cls = _backend(backend)
    if path is None:
        return cls(dim, None, **kw)
    return cls.open(Path(path), dim, **kw)


def open_index(backend: str, path: Path, **kw: Any) -> VectorIndex:
    """Open an existing index, reading its dimension from disk."""
    return _backend(backend).open(Path(path), None, **kw)
