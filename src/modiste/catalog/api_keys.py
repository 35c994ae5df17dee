"""API keys: stored as salted SHA-256 digests, so a leaked database does not leak a usable key.

A key reads ``mk_<prefix>_<secret>``. The prefix is stored in clear to find the row; the whole
key is hashed with a per-key salt and compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from modiste.catalog.schema import Base, utcnow
from modiste.errors import ConfigError, NotFoundError

KEY_PREFIX = "mk_"


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    salt: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
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


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at is not None
    )


def create_key(session: Session, name: str) -> tuple[ApiKeyInfo, str]:
    """Make a key; the clear key is returned once and never stored."""
    name = name.strip()
    if not name:
        raise ConfigError("an API key needs a name")
    if session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name)) is not None:
        raise ConfigError(f"an API key named {name!r} already exists")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    salt = secrets.token_hex(16)
    row = ApiKeyRow(name=name, prefix=prefix, salt=salt, digest=_digest(salt, key))
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
    """The key's owner if ``key`` is valid and not revoked, else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX:
        return None
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == parts[1]))
    # Hash even when no row matches, so timing does not tell which prefixes exist.
    salt = row.salt if row is not None else "0" * 32
    ok = hmac.compare_digest(_digest(salt, key), row.digest if row is not None else "0" * 64)
    if row is None or not ok or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    return _info(row)
