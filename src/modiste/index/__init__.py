"""Vector indexes: one :class:`VectorIndex` protocol, FAISS (embedded) and Qdrant backends."""

from modiste.index.base import Hit, VectorIndex
from modiste.index.registry import (
    create_index,
    list_index_backends,
    open_index,
    register_index_backend,
)

__all__ = [
    "Hit",
    "VectorIndex",
    "create_index",
    "list_index_backends",
    "open_index",
    "register_index_backend",
]
