"""Temp files a killed run leaves in the data folder, removed when the next ingest starts.

Every writer in the pipeline writes a temp file and renames it, so a kill leaves the temp file
(never a half-written real one). Who writes what:

- ``imaging.store.atomic_write``: originals and garment crops (``images/``), thumbnails
  (``thumbs/``), ``index/visual.json``, saved regulations and exported corrections, as
  ``.tmp-<pid>-*`` next to the target;
- ``models.onnx_runtime.cached_export``: ``cache/onnx/<name>.<pid>.tmp``;
- ``index.persist.commit``: generation files (``<role>-<gen>.bin``) and ``.manifest.json.<gen>.tmp``
  in ``index/visual/``; a generation is committed only when the manifest names it.

The sweep runs with the ingest lock held, so no other ingest is writing. The API server may be
(thumbnails, regulations, ONNX exports): a temp file whose writer's pid is alive is kept, and in
the index only generations newer than the committed one are removed (a reader may still be
opening the previous one). A pid reused by an unrelated live process keeps its file until a
later sweep. The image store is walked only when the lock's last holder was killed: it is the
one large tree, and walking it would cost every no-op ingest (benchmarks/README.md, "Ingest
leftovers sweep").
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from modiste.catalog.schema import GarmentRow, ImageRow
from modiste.config import Settings

log = logging.getLogger(__name__)
_TEMP = re.compile(r"^\.tmp-(\d+)-")  # atomic_write
_ONNX_TEMP = re.compile(r"\.(\d+)\.tmp$")  # cached_export
_GENERATION = re.compile(r"^\w+-(\d{6,})\.bin$")  # persist.commit
_STORED = re.compile(r"^[0-9a-f]{64}$")  # ImageStore: the sha256 is the name
_ATOMIC_DIRS = ("images", "thumbs", "index", "regulations", "corrections")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove(paths: Iterable[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as e:  # best effort: a leftover must never stop an ingest
            log.warning("could not remove leftover temp file %s: %s", path, e)
    return removed


def _dead_writer_files(root: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Files under ``root`` named by ``pattern`` whose writer's pid is not alive.

    ``os.walk`` with a name test, not ``Path.rglob``: the image store has up to 65,536
    folders and this runs at every ingest (3x faster on 20k images, benchmarks/README.md).
    """
    out = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            m = pattern.search(name)
            if m and not _alive(int(m.group(1))):
                out.append(Path(folder) / name)
    return out


def _uncommitted_index_files(directory: Path) -> list[Path]:
    """Generation files newer than the committed manifest, and manifest temp files."""
    if not directory.is_dir():
        return []
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        committed = int(manifest["generation"])
    except FileNotFoundError:
        committed = 0
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: leave it to the index
        return []
    out = []
    for path in directory.iterdir():
        m = _GENERATION.search(path.name)
        manifest_tmp = path.name.startswith(".manifest.json.") and path.name.endswith(".tmp")
        if manifest_tmp or (m and int(m.group(1)) > committed):
            out.append(path)
    return out


def sweep_leftovers(settings: Settings, *, deep: bool = True) -> int:
    """Remove temp files left by killed writers in the data folder; returns how many.

    ``deep=False`` skips the image store, the one large tree: only an ingest (or an index
    rebuild) writes there, under the ingest lock, so it can hold leftovers only when the lock's
    last holder was killed (see :class:`modiste.pipeline.lock.IngestLock`).
    """
    data = settings.resolved_data_dir
    found: list[Path] = []
    for name in _ATOMIC_DIRS if deep else _ATOMIC_DIRS[1:]:
        found += _dead_writer_files(data / name, _TEMP)
    found += _dead_writer_files(settings.cache_dir / "onnx", _ONNX_TEMP)
    found += _uncommitted_index_files(data / "index" / "visual")
    removed = _remove(found)
    if removed:
        log.info("removed %d temp files left by an interrupted run", removed)
    return removed


def remove_unreferenced_files(settings: Settings, db: Any) -> int:
    """Remove stored files no catalog row names; returns how many.

    A run killed between writing a file and committing the row that names it (the embed stage
    stores a chunk's crops, then commits their garments) leaves a whole file nobody will ever
    read. Only an ingest or an index rebuild adds rows that name files, under the ingest lock,
    so with the lock held every file in use is named. Called after a killed holder only: it
    walks the whole store and holds every name in memory (~150 MB per million files).
    """
    with db.session() as session:
        named = set(
            session.scalars(select(ImageRow.content_hash).where(ImageRow.content_hash.is_not(None)))
        )
        named.update(
            session.scalars(select(GarmentRow.crop_hash).where(GarmentRow.crop_hash.is_not(None)))
        )
    unreferenced = []
    for folder, _dirs, names in os.walk(settings.images_dir):
        unreferenced += [Path(folder) / n for n in names if _STORED.match(n) and n not in named]
    removed = _remove(unreferenced)
    if removed:
        log.info("removed %d stored files no catalog row names (left by a killed run)", removed)
    return removed
