"""One error family for the whole package.

Every backend and service raises a subclass of :class:`ModisteError` (chaining the cause with
``raise ... from e``), so the CLI and the API can turn any failure into one clear line.
"""

from __future__ import annotations


class ModisteError(Exception):
    """Root of every error Modiste raises on purpose."""


class ConfigError(ModisteError):
    """A setting, regulation or taxonomy file is invalid."""


class ImageDecodeError(ModisteError):
    """An image could not be decoded safely (bad format, corrupt, too large...)."""


class FetchError(ModisteError):
    """An image could not be fetched (refused address, timeout, too large, not an image)."""


class FeedError(ModisteError):
    """A feed file or row is invalid."""


class NotFoundError(ModisteError):
    """A product, image, model or other named object does not exist."""


class ModelError(ModisteError):
    """A model could not be built, loaded or run (unknown name, missing weights, bad file)."""


class VectorIndexError(ModisteError):
    """A vector index operation failed (dimension mismatch, corrupt file, backend error)."""


class StoreError(ModisteError):
    """The image store could not be used (an object store unreachable, credentials refused)."""


class BackupError(ModisteError):
    """A backup could not be made, or is corrupt, partial or unsuitable (nothing was restored)."""
