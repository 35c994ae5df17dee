"""Crash-safe directory persistence: generation files plus one atomically replaced manifest.

A save writes every file of a new generation under a fresh name (``index-<gen>.faiss``...),
fsyncs them, then replaces ``manifest.json`` with ``os.replace`` (atomic on POSIX) and fsyncs the
directory. The manifest is the commit point: a crash before it leaves the old manifest naming the
old, untouched files; a crash after it leaves the new generation complete. Files of older
generations are removed only after the commit.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modiste.errors import VectorIndexError

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - some filesystems refuse opening directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


Writer = bytes | Callable[[Path], None]


def write_file(path: Path, data: Writer) -> None:
    """Write and fsync one generation file (a fresh name, never one a manifest points to).

    ``data`` is bytes or a function writing the file itself (FAISS streams a large index to disk
    without a second in-memory copy).
    """
    if callable(data):
        data(path)
        mode = "rb+"
    else:
        with open(path, "wb") as fh:
            fh.write(data)
        mode = "rb"
    with open(path, mode) as fh:
        os.fsync(fh.fileno())


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The committed manifest, ``None`` when the directory holds no index yet."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise VectorIndexError(f"corrupt index manifest {path}: {e}") from e
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise VectorIndexError(f"corrupt index manifest {path}: no 'files' entry")
    return manifest


def commit(directory: Path, files: dict[str, Writer], meta: dict[str, Any]) -> None:
    """Write ``files`` (role -> bytes or writer) as a new generation and commit it with ``meta``."""
    old = read_manifest(directory)
    gen = int(old["generation"]) + 1 if old else 1
    names: dict[str, str] = {}
    try:
        for role, data in files.items():
            name = f"{role}-{gen:06d}.bin"
            write_file(directory / name, data)
            names[role] = name
        manifest = {**meta, "generation": gen, "files": names}
        tmp = directory / f".{MANIFEST}.{gen}.tmp"
        write_file(tmp, json.dumps(manifest, indent=1).encode())
        os.replace(tmp, directory / MANIFEST)
        fsync_dir(directory)
    except OSError as e:
        raise VectorIndexError(f"could not save index to {directory}: {e}") from e
    # The previous generation stays: a reader that read the old manifest a moment ago is
    # still opening its files. The one before it goes.
    previous = set((old or {}).get("files", {}).values())
    _remove_stale(directory, keep=set(names.values()) | previous | {MANIFEST})


def file_paths(directory: Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """Role -> path of the committed generation, checking every file is there."""
    out: dict[str, Path] = {}
    for role, name in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise VectorIndexError(f"corrupt index at {directory}: missing {name}")
        out[role] = path
    return out


def _remove_stale(directory: Path, keep: set[str]) -> None:
    """Best effort: old generations and temp files left by a crashed save."""
    for p in directory.iterdir():
        if p.name in keep or not p.is_file():
            continue
        if p.name.endswith(".bin") or p.name.endswith(".tmp"):
            try:
                p.unlink()
            except OSError:  # pragma: no cover
                log.warning("could not remove stale index file %s", p)
