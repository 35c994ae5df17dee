"""API keys: stored as salted SHA-256 digests, so a leaked database does not leak a usable key.

A key reads ``mk_<prefix>_<secret>``. The prefix is stored in clear to find the row; the whole
key is hashed with a per-key salt and compared in constant time (``hmac.compare_digest``).
A plain SHA-256 (not a slow password hash) is enough: the secret is 192 random bits, not a
password a person chose.

Each key has scopes, a ladder where each step includes the ones below it: ``read`` (reads of
a private catalog), ``write`` (catalog edits: products, gallery order, shot labels, duplicate
verdicts) and ``admin`` (regulations, ingest jobs, deletes). Keys made before scopes existed
had every write route, so migration 0007 gives them ``read write``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from modiste.catalog.schema import Base, utcnow
from modiste.errors import ConfigError, NotFoundError

KEY_PREFIX = "mk_"
SCOPES = ("read", "write", "admin")  # each includes the ones before it
DEFAULT_SCOPE = "write"
# last_used_at is for people deciding which keys to revoke, so minute precision is plenty;
# writing it on every request would turn every read into a database write.
LAST_USED_EVERY = timedelta(minutes=1)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    salt: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    # Space-separated, every implied scope written out ("read write"), so a check is a lookup.
    scopes: Mapped[str] = mapped_column(String(64), server_default="read write")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    scopes: frozenset[str] = frozenset()

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def scope(self) -> str:
        """The highest scope held (what ``keys create --scope`` was given)."""
        return next((s for s in reversed(SCOPES) if s in self.scopes), "none")


def scopes_for(scope: str) -> tuple[str, ...]:
    """``scope`` with every scope it includes, in ladder order; an unknown name is an error."""
    if scope not in SCOPES:
        raise ConfigError(f"unknown API key scope {scope!r}; valid: {', '.join(SCOPES)}")
    return SCOPES[: SCOPES.index(scope) + 1]


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    scopes = frozenset(s for s in (row.scopes or "").split() if s in SCOPES)
    return ApiKeyInfo(
        row.id,
        row.name,
        row.prefix,
        _aware(row.created_at) or utcnow(),
        _aware(row.last_used_at),
        row.revoked_at is not None,
        scopes,
    )


def create_key(session: Session, name: str, scope: str = DEFAULT_SCOPE) -> tuple[ApiKeyInfo, str]:
    """Make a key with ``scope`` (and the scopes below it); the clear key is returned once and
    never stored."""
    name = name.strip()
    if not name:
        raise ConfigError("an API key needs a name")
    scopes = " ".join(scopes_for(scope))
    if session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name)) is not None:
        raise ConfigError(f"an API key named {name!r} already exists")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    salt = secrets.token_hex(16)
    row = ApiKeyRow(name=name, prefix=prefix, salt=salt, digest=_digest(salt, key), scopes=scopes)
    session.add(row)
    session.flush()
    return _info(row), key


def list_keys(session: Session) -> list[ApiKeyInfo]:
    return [_info(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def revoke_key(session: Session, name_or_prefix: str) -> ApiKeyInfo:
    row = session.scalar(
        select(ApiKeyRow).where(
            (ApiKeyRow.name == name_or_prefix) | (ApiKeyRow.prefix == name_or_prefix)
        )
    )
    if row is None:
        raise NotFoundError(f"no API key {name_or_prefix!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return _info(row)


def verify_key(session: Session, key: str) -> ApiKeyInfo | None:
    """The key's owner if ``key`` is valid and not revoked, else ``None``.

    Records the time of use at most once per :data:`LAST_USED_EVERY` per key.
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX:
        return None
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == parts[1]))
    # Hash even when no row matches, so timing does not tell which prefixes exist.
    salt = row.salt if row is not None else "0" * 32
    ok = hmac.compare_digest(_digest(salt, key), row.digest if row is not None else "0" * 64)
    if row is None or not ok or row.revoked_at is not None:
        return None
    now, last = utcnow(), _aware(row.last_used_at)
    if last is None or now - last >= LAST_USED_EVERY:
        row.last_used_at = now
    return _info(row)
