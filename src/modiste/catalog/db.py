"""Engine and sessions. SQLite gets WAL and foreign keys; PostgreSQL works from the URL alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from modiste.config import Settings
from modiste.errors import ModisteError


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine plus a session factory; built once per process from Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from modiste.catalog.migrate import upgrade

        upgrade(self.engine)

    def ensure_ready(self) -> None:
        """Fail with a clear message if the catalog was never initialised."""
        from sqlalchemy import inspect

        url = self.engine.url
        missing_file = (
            url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
            and not Path(url.database).exists()  # type: ignore[arg-type]
        )
        # checked first: connecting would create an empty database file as a side effect
        if missing_file or "products" not in inspect(self.engine).get_table_names():
            raise ModisteError(
                f"no catalog at {self.url}: run `modiste init` (or `modiste import`) first"
            )
        from modiste.catalog.migrate import current_revision, head_revision

        have, need = current_revision(self.engine), head_revision()
        if have != need:
            raise ModisteError(
                f"the catalog at {self.url} has schema {have}, this Modiste needs {need}: "
                "run `modiste init` to upgrade it (your data is kept)"
            )

    def dispose(self) -> None:
        self.engine.dispose()
