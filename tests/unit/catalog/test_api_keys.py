"""API keys: scopes, constant-time checks, cheap last-used times, keys made before scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from modiste.catalog import api_keys
from modiste.catalog.api_keys import ApiKeyRow, create_key, list_keys, scopes_for, verify_key
from modiste.catalog.db import Database
from modiste.catalog.migrate import upgrade
from modiste.config import Settings
from modiste.errors import ConfigError


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(Settings(data_dir=tmp_path / "data"))
    database.migrate()
    yield database
    database.dispose()


def test_each_scope_includes_the_ones_below() -> None:
    assert scopes_for("read") == ("read",)
    assert scopes_for("write") == ("read", "write")
    assert scopes_for("admin") == ("read", "write", "admin")
    with pytest.raises(ConfigError, match="valid: read, write, admin"):
        scopes_for("root")


def test_keys_carry_their_scope(db: Database) -> None:
    with db.session() as s:
        _, reader = create_key(s, "reader", "read")
        _, writer = create_key(s, "writer")  # the default: catalog edits, not admin
        _, admin = create_key(s, "admin", "admin")
        with pytest.raises(ConfigError):
            create_key(s, "nope", "superuser")
    with db.session() as s:
        r, w, a = (verify_key(s, k) for k in (reader, writer, admin))
        assert r is not None and w is not None and a is not None
        assert (r.scope, w.scope, a.scope) == ("read", "write", "admin")
        assert r.allows("read") and not r.allows("write")
        assert w.allows("write") and not w.allows("admin")
        assert a.allows("read") and a.allows("write") and a.allows("admin")
        assert [k.name for k in list_keys(s)] == ["reader", "writer", "admin"]


def test_the_secret_is_compared_in_constant_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    real = api_keys.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    with db.session() as s:
        _, key = create_key(s, "k")
        assert verify_key(s, key) is not None
        assert verify_key(s, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        # an unknown prefix is hashed and compared too, so timing does not tell prefixes apart
        assert verify_key(s, "mk_00000000_" + "x" * 32) is None
    assert len(calls) == 3


def test_last_use_is_written_at_most_once_a_minute(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as s:
        _, key = create_key(s, "k")
    clock = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(api_keys, "utcnow", lambda: clock[0])

    def use(after: timedelta) -> datetime | None:
        clock[0] += after
        with db.session() as s:
            assert verify_key(s, key) is not None
        with db.session() as s:
            return list_keys(s)[0].last_used_at

    first = use(timedelta(0))
    assert first == clock[0]
    assert use(timedelta(seconds=30)) == first  # no write: the stored time stands
    assert use(timedelta(seconds=29)) == first
    assert use(timedelta(seconds=2)) == clock[0]  # a minute on: recorded again


def test_keys_made_before_scopes_keep_reads_and_writes(tmp_path: Path) -> None:
    old = Database(Settings(data_dir=tmp_path / "data"))
    upgrade(old.engine, "0006")
    salt, key = "ab" * 16, "mk_1234abcd_" + "s" * 32
    with old.engine.begin() as conn:  # a key row as version 0006 wrote it (no scopes column)
        conn.execute(
            text(
                "INSERT INTO api_keys (name, prefix, salt, digest, created_at) "
                "VALUES ('legacy', '1234abcd', :salt, :digest, '2026-01-01 00:00:00')"
            ),
            {"salt": salt, "digest": api_keys._digest(salt, key)},
        )
    old.migrate()
    with old.session() as s:
        info = verify_key(s, key)
        assert info is not None and info.scopes == {"read", "write"}
        assert s.get(ApiKeyRow, info.id).scopes == "read write"  # type: ignore[union-attr]
    old.dispose()
