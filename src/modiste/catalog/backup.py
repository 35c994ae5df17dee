"""Backup and restore of a data folder, consistent while the server and an ingest run.

A backup folder holds ``manifest.json`` (written last: a folder without it is not a backup),
``catalog/`` (the database) and ``data/`` (the data folder's files). How each part stays
consistent without stopping anyone:

- The catalog first. SQLite is copied with the online backup API (``Connection.backup``): one
  step under a read transaction, so the copy is one committed state whatever writes meanwhile.
  PostgreSQL is dumped with ``pg_dump`` (one snapshot too).
- Then the originals and garment crops that snapshot references. They are content-addressed
  and the store writes a file before committing the row that names it, so every file a
  committed row names exists and is complete. A row whose file is missing in the source is
  counted (``missing_images``): restored, it is fetched again by the next ingest.
- Each vector index directory is copied at the generation its ``manifest.json`` names
  (generation files are never rewritten; a save keeps the previous generation, and a copy
  that loses a race with two saves starts again from the newer manifest). The index may be a
  little ahead of or behind the catalog: the embed stage reconciles them on the next ingest.
- Everything else (regulations, models, corrections, ``visual.json``...), skipping caches that
  are made again on demand (``thumbs/``, ``cache/``), temp files and the ingest lock.

Restore verifies every file against the manifest's sha256 while copying into a temp folder
next to the target and renames it into place only when all is well, so a corrupt or partial
backup leaves the target untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from modiste import __version__
from modiste.catalog import backup_db
from modiste.config import Settings
from modiste.errors import BackupError

MANIFEST = "manifest.json"
FORMAT = "modiste-backup"
FORMAT_VERSION = 1
INDEX_MANIFEST = "manifest.json"  # modiste.index.persist.MANIFEST (no import: catalog < index)
SKIP_TOP = {"images", "thumbs", "cache", "ingest.lock"}  # images: copied from the snapshot
_CHUNK = 1 << 20
_INDEX_RETRIES = 20


@dataclass
class BackupReport:
    path: Path
    files: int = 0
    bytes: int = 0
    images: int = 0
    missing_images: int = 0
    database: str = "sqlite"
    schema_version: str | None = None
    index_generations: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "path": str(self.path)}


@dataclass
class RestoreReport:
    path: Path
    files: int = 0
    bytes: int = 0
    schema_version: str | None = None
    needs_upgrade: bool = False  # made by an older Modiste: `modiste init` migrates it
    replaced: bool = False  # a non-empty data folder was replaced (--force)

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "path": str(self.path)}


def copy_hashed(src: Path | BinaryIO, dst: Path) -> tuple[str, int]:
    """Copy ``src`` (a path or an open file) to ``dst``; the sha256 and size of the bytes."""
    if isinstance(src, Path):
        with open(src, "rb") as fin:
            return copy_hashed(fin, dst)
    digest, size = hashlib.sha256(), 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as fout:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _is_temp(name: str) -> bool:
    """Temp files of atomic writes (``.tmp-<pid>-*``) and of index saves (``*.tmp``)."""
    return name.startswith(".tmp-") or name.endswith(".tmp")


def _empty(folder: Path) -> bool:
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# ---------------------------------------------------------------------------------- backup


class _Writer:
    """Copies files into the backup folder, recording each one for the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, src: Path | BinaryIO, rel: str) -> None:
        sha, size = copy_hashed(src, self.root / rel)
        self.files[rel] = {"sha256": sha, "bytes": size}

    def add_if_present(self, src: Path, rel: str) -> None:
        """Copy a file unless it was deleted since it was listed (then it is not in the backup)."""
        try:
            self.add(src, rel)
        except FileNotFoundError:
            (self.root / rel).unlink(missing_ok=True)


def _copy_index_dir(writer: _Writer, folder: Path, rel: str) -> int | None:
    """Copy the generation ``folder/manifest.json`` names; its generation number.

    Every file of the generation is opened before any is copied: a save that removes them
    meanwhile cannot take them away (POSIX keeps an open file readable), so only a save landing
    between reading the manifest and opening its files makes us read the newer one.
    """
    for _ in range(_INDEX_RETRIES):
        with ExitStack() as stack:
            try:
                raw = (folder / INDEX_MANIFEST).read_bytes()
                manifest = json.loads(raw)
                names = list(manifest["files"].values())
                opened = [stack.enter_context(open(folder / name, "rb")) for name in names]
            except FileNotFoundError:  # a save replaced this generation meanwhile: again
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise BackupError(f"the vector index at {rel} is unreadable ({e})") from e
            for name, fh in zip(names, opened, strict=True):
                writer.add(fh, f"{rel}/{name}")
        (writer.root / rel / INDEX_MANIFEST).write_bytes(raw)
        writer.files[f"{rel}/{INDEX_MANIFEST}"] = {
            "sha256": hashlib.sha256(raw).hexdigest(),
            "bytes": len(raw),
        }
        gen = manifest.get("generation")
        return int(gen) if isinstance(gen, int) else None
    raise BackupError(f"the vector index at {rel} kept changing during the backup; try again")


def _walk(folder: Path) -> Iterator[Path]:
    """Files and index directories under ``folder`` (an index directory is not descended)."""
    for entry in sorted(folder.iterdir()):
        if _is_temp(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if (entry / INDEX_MANIFEST).is_file():
                yield entry
            else:
                yield from _walk(entry)
        elif entry.is_file():
            yield entry


def _copy_folder(writer: _Writer, src: Path, rel: str, report: BackupReport) -> None:
    for path in _walk(src):
        sub = f"{rel}/{path.relative_to(src).as_posix()}"
        if path.is_dir():
            gen = _copy_index_dir(writer, path, sub)
            if gen is not None:
                report.index_generations[sub.removeprefix("data/")] = gen
        else:
            writer.add_if_present(path, sub)


def _copy_data_folder(settings: Settings, writer: _Writer, report: BackupReport) -> None:
    data = settings.resolved_data_dir
    skip = {*SKIP_TOP, *backup_db.sqlite_files(settings)}
    for entry in sorted(data.iterdir()):
        if entry.name in skip or _is_temp(entry.name):
            continue
        if entry.is_dir():
            _copy_folder(writer, entry, f"data/{entry.name}", report)
        elif entry.is_file():
            writer.add_if_present(entry, f"data/{entry.name}")
    models = settings.model_dir
    if models.is_dir() and not _within(models, data):  # MODISTE_MODELS_DIR elsewhere
        _copy_folder(writer, models, "data/models", report)


def _copy_images(settings: Settings, writer: _Writer, hashes: dict[str, bool]) -> int:
    """Copy the store files named by the snapshot; the number of stored rows' missing files."""
    from modiste.imaging.store import ImageStore

    store, missing = ImageStore(settings.images_dir), 0
    data = settings.resolved_data_dir
    for digest, needed in sorted(hashes.items()):
        path = store.path_for(digest)
        try:
            writer.add(path, f"data/{path.relative_to(data).as_posix()}")
        except FileNotFoundError:
            missing += needed
        except ValueError as e:  # a hash that is not a file name
            raise BackupError(f"the catalog names an invalid image hash {digest[:16]!r}") from e
    return missing


def create_backup(settings: Settings, out: Path) -> BackupReport:
    """Write a backup of ``settings``' data folder to ``out`` (a new or empty folder)."""
    data = settings.resolved_data_dir
    out = out.expanduser().resolve()
    if not data.is_dir():
        raise BackupError(f"no data folder at {data}: nothing to back up")
    if _within(out, data):
        raise BackupError("the backup folder must be outside the data folder")
    if not _empty(out):
        raise BackupError(f"{out} exists and is not empty; give a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        writer = _Writer(tmp)
        report = BackupReport(path=out, database=backup_db.kind(settings))
        snapshot = backup_db.dump(settings, tmp / "catalog")
        report.schema_version = snapshot.schema_version
        for path in sorted((tmp / "catalog").iterdir()):
            sha, size = hash_file(path)
            writer.files[f"catalog/{path.name}"] = {"sha256": sha, "bytes": size}
        if not settings.image_store:  # an object store keeps its own (versioning, replicas)
            report.missing_images = _copy_images(settings, writer, snapshot.hashes)
            report.images = len(snapshot.hashes) - report.missing_images
        _copy_data_folder(settings, writer, report)
        report.files = len(writer.files)
        report.bytes = sum(f["bytes"] for f in writer.files.values())
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "modiste_version": __version__,
            "schema_version": report.schema_version,
            "database": report.database,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "images": report.images,
            "missing_images": report.missing_images,
            "index_generations": report.index_generations,
            "files": writer.files,
        }
        os.sync()  # the files are on disk before the manifest says the backup is whole
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


# --------------------------------------------------------------------------------- restore


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, checked for shape and safe paths (never outside the backup)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"no backup at {folder}")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise BackupError(f"{folder} is not a complete backup (no {MANIFEST})") from e
    except (OSError, ValueError) as e:
        raise BackupError(f"the backup manifest {path} is unreadable ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Modiste backup manifest")
    if not isinstance(manifest.get("format_version"), int) or (
        manifest["format_version"] > FORMAT_VERSION
    ):
        raise BackupError("the backup was made by a newer Modiste; upgrade Modiste to restore it")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BackupError(f"{path} lists no files")
    for rel, entry in files.items():
        parts = PurePosixPath(rel).parts
        safe = (
            isinstance(rel, str)
            and not rel.startswith("/")
            and len(parts) > 1
            and parts[0] in ("catalog", "data")
            and ".." not in parts
            and "\\" not in rel
        )
        if not safe or not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise BackupError(f"{path} has an invalid entry {rel!r}")
    if manifest.get("database") not in backup_db.KINDS:
        raise BackupError(f"{path} names an unknown database kind {manifest.get('database')!r}")
    return manifest


def _verified_copy(backup: Path, rel: str, entry: dict[str, Any], dst: Path) -> int:
    src = backup / rel
    try:
        sha, size = copy_hashed(src, dst)
    except FileNotFoundError as e:
        raise BackupError(f"the backup is incomplete: {rel} is missing") from e
    if sha != entry["sha256"] or size != entry.get("bytes", size):
        raise BackupError(f"the backup is corrupt: {rel} does not match its checksum")
    return size


def restore_backup(settings: Settings, backup: Path, *, force: bool = False) -> RestoreReport:
    """Restore ``backup`` into ``settings``' data folder (new or empty, or any with ``force``).

    Every file is checked against the manifest while it is copied into a temp folder beside
    the target; the target is replaced only when all of them match.
    """
    backup = backup.expanduser().resolve()
    target = settings.resolved_data_dir
    manifest = read_manifest(backup)
    kind = backup_db.kind(settings)
    if manifest["database"] != kind:
        raise BackupError(
            f"the backup holds a {manifest['database']} catalog but this data folder uses "
            f"{kind}; set MODISTE_DATABASE_URL to match"
        )
    schema = manifest.get("schema_version")
    needs_upgrade = backup_db.check_schema(schema if isinstance(schema, str) else None)
    if target.exists() and not target.is_dir():
        raise BackupError(f"{target} is not a folder")
    occupied = not _empty(target) or backup_db.has_catalog(settings)
    if occupied and not force:
        raise BackupError(
            f"{target} already holds a catalog or files; restore into a new folder "
            "(--data-dir) or pass --force to replace it"
        )
    if _within(target, backup) or _within(backup, target):
        raise BackupError("the backup and the data folder must not contain each other")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.restoring-"))
    report = RestoreReport(path=target, schema_version=schema, needs_upgrade=needs_upgrade)
    try:
        catalog = tmp.parent / f"{tmp.name}-catalog"
        for rel, entry in manifest["files"].items():
            top, _, rest = rel.partition("/")
            dst = (tmp if top == "data" else catalog) / rest
            report.bytes += _verified_copy(backup, rel, entry, dst)
            report.files += 1
        backup_db.load(settings, catalog, tmp)  # SQLite: checked, then moved into tmp
        os.sync()
        report.replaced = _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp.parent / f"{tmp.name}-catalog", ignore_errors=True)
    return report


def _swap_in(tmp: Path, target: Path) -> bool:
    """Rename ``tmp`` to ``target``; a non-empty target is set aside and removed after."""
    if target.is_dir() and _empty(target):
        target.rmdir()
    if not target.exists():
        os.replace(tmp, target)
        return False
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.replaced-"))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return True
