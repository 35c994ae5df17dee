"""Alembic environment: uses the connection handed over by modiste.catalog.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import modiste.catalog.api_keys  # noqa: F401  (registers its table on Base.metadata)
from modiste.catalog.schema import Base

target_metadata = Base.metadata
config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        _run(conn)
