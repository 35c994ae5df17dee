"""Full-text search over products (SQLite FTS5, trigram tokenizer).

Trigrams match inside words, which is what Japanese titles need (no spaces between words) and
also catches plurals ("jackets" contains "jacket"). PostgreSQL has no FTS5: search falls back to
ILIKE there (see modiste.search.text), so this revision does nothing on other databases.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = "title, brand, product_type, description"
_NEW = "new.title, new.brand, new.product_type, new.description"
_OLD = "old.title, old.brand, old.product_type, old.description"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5({_COLUMNS}, "
        "content='products', content_rowid='id', tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS products_fts_ai AFTER INSERT ON products BEGIN "
        f"INSERT INTO products_fts(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS products_fts_ad AFTER DELETE ON products BEGIN "
        f"INSERT INTO products_fts(products_fts, rowid, {_COLUMNS}) "
        f"VALUES ('delete', old.id, {_OLD}); END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS products_fts_au AFTER UPDATE ON products BEGIN "
        f"INSERT INTO products_fts(products_fts, rowid, {_COLUMNS}) "
        f"VALUES ('delete', old.id, {_OLD}); "
        f"INSERT INTO products_fts(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); END"
    )
    op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("products_fts_ai", "products_fts_ad", "products_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS products_fts")
