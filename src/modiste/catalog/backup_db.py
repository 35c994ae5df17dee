"""The database half of a backup: a consistent snapshot out, a checked catalog back in.

SQLite uses the online backup API (a copy of one committed state while others write; WAL
readers never block the ingest writer). PostgreSQL uses ``pg_dump``/``pg_restore`` when they
are on PATH; without them a PostgreSQL catalog cannot be backed up here, and that is said plainly.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from modiste.config import Settings
from modiste.errors import BackupError

KINDS = ("sqlite", "postgresql")
SQLITE_FILE = "modiste.db"
PG_FILE = "catalog.pgdump"


def _hashes_sql(any_true: str, false: str) -> str:
    """Files the snapshot needs: every image and garment crop a row names.

    The flag is true when a stored image needs the file (a missing one is reported), false
    for crops and rows not stored yet.
    """
    return (
        f"SELECT content_hash, {any_true}(status = 'stored') FROM images "
        "WHERE content_hash IS NOT NULL GROUP BY content_hash "
        f"UNION ALL SELECT crop_hash, {false} FROM garments WHERE crop_hash IS NOT NULL"
    )


@dataclass
class Snapshot:
    schema_version: str | None
    hashes: dict[str, bool] = field(default_factory=dict)


def kind(settings: Settings) -> str:
    backend = make_url(settings.sqlalchemy_url).get_backend_name()
    if backend not in KINDS:
        raise BackupError(f"backups support SQLite and PostgreSQL catalogs, not {backend}")
    return backend


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.sqlalchemy_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory catalog cannot be backed up or restored")
    return Path(database).expanduser().resolve()


def sqlite_files(settings: Settings) -> set[str]:
    """Names in the data folder that are the live SQLite catalog (copied by the snapshot)."""
    if kind(settings) != "sqlite":
        return set()
    name = _sqlite_path(settings).name
    return {name, f"{name}-wal", f"{name}-shm", f"{name}-journal"}


def _collect(rows: list[tuple[object, object]]) -> dict[str, bool]:
    hashes: dict[str, bool] = {}
    for digest, needed in rows:
        hashes[str(digest)] = hashes.get(str(digest), False) or bool(needed)
    return hashes


def dump(settings: Settings, folder: Path) -> Snapshot:
    """Write the catalog snapshot into ``folder``; what it holds (schema, files it names)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind(settings) == "sqlite":
        return _dump_sqlite(_sqlite_path(settings), folder / SQLITE_FILE)
    return _dump_postgres(settings, folder / PG_FILE)


def _dump_sqlite(source: Path, out: Path) -> Snapshot:
    if not source.is_file():
        raise BackupError(f"no catalog at {source}: nothing to back up")
    # mode=rw: never create a database as a side effect of a typo
    src = sqlite3.connect(f"{source.as_uri()}?mode=rw", uri=True, timeout=30)
    dst = sqlite3.connect(out)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # all pages in one step: one committed state
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"the catalog copy failed its integrity check ({check[0][0]})")
        version = dst.execute("SELECT version_num FROM alembic_version").fetchone()
        hashes = _collect(dst.execute(_hashes_sql("max", "0")).fetchall())
    except sqlite3.Error as e:
        raise BackupError(f"the catalog could not be copied ({e})") from e
    finally:
        src.close()
        dst.close()
    return Snapshot(version[0] if version else None, hashes)


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it."""
    url = make_url(settings.sqlalchemy_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(tool: str, args: list[str], env: dict[str, str]) -> None:
    exe = shutil.which(tool)
    if exe is None:
        raise BackupError(
            f"{tool} is not on PATH: a PostgreSQL catalog is backed up and restored with "
            f"{tool} (install the PostgreSQL client tools)"
        )
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{tool} failed: {detail}")


def _dump_postgres(settings: Settings, out: Path) -> Snapshot:
    from sqlalchemy import text

    from modiste.catalog.db import Database

    url, env = _libpq(settings)
    _run("pg_dump", ["--format=custom", "--no-owner", f"--file={out}", url], env)
    # Read after the dump: a superset of the rows the dump holds (store files are never
    # deleted, so a row the dump has but a later delete removed keeps its file anyway; at
    # worst the next ingest fetches it again).
    db = Database(settings)
    try:
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            rows = conn.execute(text(_hashes_sql("bool_or", "false"))).all()
    finally:
        db.dispose()
    return Snapshot(version, _collect([(r[0], r[1]) for r in rows]))


def check_schema(revision: str | None) -> bool:
    """True when the backup's schema is older than this Modiste's; refuse unknown ones."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from modiste.catalog.migrate import alembic_config, head_revision

    if revision is None:
        raise BackupError("the backup names no schema version; it is not a Modiste catalog")
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError as e:
        raise BackupError(
            f"the backup's catalog schema {revision!r} is unknown to this Modiste "
            "(made by a newer version?); upgrade Modiste to restore it"
        ) from e
    return revision != head_revision()


def has_catalog(settings: Settings) -> bool:
    """Whether the target database already holds a catalog (restore would overwrite it)."""
    if kind(settings) == "sqlite":
        return _sqlite_path(settings).exists()
    from sqlalchemy import inspect

    from modiste.catalog.db import Database

    db = Database(settings)
    try:
        return "products" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def load(settings: Settings, catalog: Path, data: Path) -> None:
    """Put the verified catalog from ``catalog`` in place: into ``data`` (SQLite) or the server."""
    if kind(settings) == "sqlite":
        target = _sqlite_path(settings)
        if target != settings.resolved_data_dir / SQLITE_FILE:
            raise BackupError(
                f"restore puts the SQLite catalog in the data folder, not at {target}; "
                "unset MODISTE_DATABASE_URL"
            )
        source = catalog / SQLITE_FILE
        if not source.is_file():
            raise BackupError(f"the backup is incomplete: catalog/{SQLITE_FILE} is missing")
        os.replace(source, data / SQLITE_FILE)
        return
    source = catalog / PG_FILE
    if not source.is_file():
        raise BackupError(f"the backup is incomplete: catalog/{PG_FILE} is missing")
    url, env = _libpq(settings)
    args = ["--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={url}"]
    _run("pg_restore", [*args, str(source)], env)
