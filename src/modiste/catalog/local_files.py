"""Which local files a feed may name as product photos.

A feed comes from a seller, but its image paths are read with the server's rights: without a
limit, ``/etc/…``, ``../other-shop/…`` or a symlink would be read, stored and served. Local
paths must lie inside the operator's roots (``feed_file_roots``; when none are set, the folder of
the feed being imported), after resolving symlinks and ``..``, and never inside a Modiste data
folder (this catalog's or another one's).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from modiste.config import Settings
from modiste.errors import FeedError, FetchError

# What the API shows for every failed local image, whatever the reason: "not an image" versus
# "file not found" would tell a seller which host files exist. The stored error keeps the
# reason for the operator (``modiste status``, ``modiste products show``).
NOT_AVAILABLE = "local image file not available (missing, unreadable, not an image, or outside "
NOT_AVAILABLE += "the folders feeds may read; the operator's 'modiste status' says which)"

# A data folder holds the catalog database; its images must not be re-imported as a feed's.
_DATA_MARKER = "modiste.db"


class LocalFileRefused(FeedError):
    """A local image path a feed may not use; the message is for the operator only."""


@dataclass(frozen=True)
class FileRoots:
    """Folders local image paths must resolve into (``None``: any folder) and folders never read."""

    roots: tuple[Path, ...] | None
    forbidden: tuple[Path, ...] = ()
    # folders already found outside any data folder: a feed's photos share a few folders, and
    # looking for modiste.db up every path again tripled the time to read a feed
    _clean_dirs: set[Path] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def build(cls, roots: Iterable[Path] | None, forbidden: Iterable[Path] = ()) -> FileRoots:
        def real(paths: Iterable[Path]) -> tuple[Path, ...]:
            return tuple(Path(p).expanduser().resolve() for p in paths)

        return cls(None if roots is None else real(roots), real(forbidden))

    @classmethod
    def for_import(cls, settings: Settings | None, feed_folder: Path) -> FileRoots:
        """The operator's roots, else the feed's own folder; never the data folder."""
        configured = list(settings.feed_file_roots) if settings else []
        forbidden = [settings.resolved_data_dir] if settings else []
        return cls.build(configured or [feed_folder], forbidden)

    @classmethod
    def for_fetch(cls, settings: Settings) -> FileRoots:
        """At fetch time the feed's folder is unknown: paths were checked at import, and the
        configured roots (if any) and the data folder are checked again."""
        return cls.build(settings.feed_file_roots or None, [settings.resolved_data_dir])

    def check(self, path: Path, *, unchanged: bool = False) -> Path:
        """The real path of ``path`` if a feed may read it, else :class:`LocalFileRefused`.

        ``unchanged``: the path must already be real (as the importer stored it), so a symlink
        or ``..`` put in place after the import is refused instead of followed.
        """
        try:
            real = path.resolve()
        except (RuntimeError, OSError, ValueError) as e:  # a symlink loop, a NUL byte
            raise LocalFileRefused(f"{path}: not a usable path ({e})") from None
        if unchanged and (not path.is_absolute() or real != path):
            raise LocalFileRefused(f"{path}: resolves to {real} (a symlink or '..' since import)")
        for folder in self.forbidden:
            if real.is_relative_to(folder):
                raise LocalFileRefused(f"{path}: inside the data folder {folder}")
        if real.parent not in self._clean_dirs:
            for parent in real.parents:
                if (parent / _DATA_MARKER).is_file():
                    raise LocalFileRefused(f"{path}: inside a Modiste data folder ({parent})")
            self._clean_dirs.add(real.parent)
        if self.roots is not None and not any(real.is_relative_to(r) for r in self.roots):
            allowed = ", ".join(str(r) for r in self.roots) or "none"
            shown = str(path) if real == path else f"{path} (resolves to {real})"
            raise LocalFileRefused(
                f"{shown}: outside the folders local images may be read from "
                f"({allowed}; set MODISTE_FEED_FILE_ROOTS)"
            )
        return real


def read_local_image(path: Path, roots: FileRoots, max_bytes: int) -> bytes:
    """The bytes of a feed's local image, or :class:`FetchError` saying why (for the operator;
    the API shows :func:`public_image_error` instead).

    The path is checked again (a symlink swapped in after the import is refused) and opened
    without following a final symlink; a FIFO or device never blocks or streams forever.
    """
    from modiste.imaging.decode import sniff_format  # PIL: not needed to read a feed

    try:
        real = roots.check(path, unchanged=True)
    except LocalFileRefused as e:
        raise FetchError(str(e)) from e
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        with os.fdopen(os.open(real, flags), "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FetchError(f"{path}: not a regular file")
            if info.st_size > max_bytes:
                raise FetchError(f"{path}: {info.st_size:,} bytes is over the cap of {max_bytes:,}")
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise FetchError(f"{path}: file not found or unreadable ({e.strerror or e})") from e
    if len(data) > max_bytes:
        raise FetchError(f"{path}: grew over the cap of {max_bytes:,} bytes while read")
    if sniff_format(data[:16]) is None:
        raise FetchError(f"{path}: not an image (content does not match an allowed format)")
    return data


def public_image_error(source: str, error: str | None) -> str | None:
    """An image's ``error`` as the API shows it: one message for every local-file failure."""
    if error is None or source.lower().startswith(("http://", "https://")):
        return error
    return NOT_AVAILABLE
