"""Indexed text search on PostgreSQL: a GIN index over each product's character trigrams.

SQLite has FTS5 with the trigram tokenizer (0002). PostgreSQL gets the same matching idea: every
run of three characters of title, brand, product_type and description (lower-cased) is a key of
a GIN expression index, a query term's trigrams must all be present, and ILIKE then checks the
term itself. pg_trgm is not used: it splits text into words by the database locale's idea of a
letter, so in a C-locale database Japanese titles give no trigrams at all; these functions need
no extension and split by character (docs/decisions/ingest-and-storage.md).

``string_to_array(doc, NULL)`` splits into characters in one pass (``substr`` in a loop walks
the UTF-8 string from the start each time: quadratic on long descriptions).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TRIGRAMS = """
CREATE OR REPLACE FUNCTION modiste_trigrams(doc text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(c[i] || c[i + 1] || c[i + 2]), '{}')
  FROM (SELECT string_to_array(lower(coalesce(doc, '')), NULL) AS c) AS chars,
       generate_series(1, coalesce(array_length(c, 1), 0) - 2) AS i
$$
"""

# Self-contained (no call to modiste_trigrams): pg_restore builds the index with an empty
# search_path, where an unqualified call inside a function body would not be found. The newline
# between columns never occurs in a query term (normalise turns control characters into spaces).
_PRODUCT_TRIGRAMS = """
CREATE OR REPLACE FUNCTION modiste_product_trigrams(
  title text, brand text, product_type text, description text
) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(c[i] || c[i + 1] || c[i + 2]), '{}')
  FROM (
    SELECT string_to_array(lower(
      coalesce(title, '') || E'\\n' || coalesce(brand, '') || E'\\n'
      || coalesce(product_type, '') || E'\\n' || coalesce(description, '')
    ), NULL) AS c
  ) AS chars,
  generate_series(1, coalesce(array_length(c, 1), 0) - 2) AS i
$$
"""

_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_products_search_trigrams ON products USING gin "
    "(modiste_product_trigrams(title, brand, product_type, description))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_TRIGRAMS)
    op.execute(_PRODUCT_TRIGRAMS)
    op.execute(_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_products_search_trigrams")
    op.execute("DROP FUNCTION IF EXISTS modiste_product_trigrams(text, text, text, text)")
    op.execute("DROP FUNCTION IF EXISTS modiste_trigrams(text)")
