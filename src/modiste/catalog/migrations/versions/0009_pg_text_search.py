"""Indexed text search on PostgreSQL: a GIN index over each product's character trigrams.

SQLite has FTS5 with the trigram tokenizer (0002). PostgreSQL gets the same matching idea: every
run of three characters of title, brand, product_type and description (lower-cased) is a key of
a GIN expression index, a query term's trigrams must all be present, and ILIKE then checks the
term itself. pg_trgm is not used: it splits text into words by the database locale's idea of a
letter, so in a C-locale database Japanese titles give no trigrams at all; these functions need
no extension and split by character (docs/decisions/ingest-and-storage.md).

The trigrams come from one pass over the characters (``unnest`` of ``string_to_array(doc,
NULL)`` with ``lead``): ``substr(doc, i, 3)`` or ``chars[i]`` in a loop walk the string or the
array from its start each time, quadratic: 48 ms for a 330-character product, and an import
of long descriptions crawled; this is 0.5 ms, and 8 ms for 5,000 characters.

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
  SELECT coalesce(array_agg(t), '{}') FROM (
    SELECT c || lead(c, 1) OVER w || lead(c, 2) OVER w AS t
    FROM unnest(string_to_array(lower(coalesce(doc, '')), NULL)) WITH ORDINALITY AS chars(c, i)
    WINDOW w AS (ORDER BY i)
  ) AS runs WHERE t IS NOT NULL
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
  SELECT coalesce(array_agg(t), '{}') FROM (
    SELECT c || lead(c, 1) OVER w || lead(c, 2) OVER w AS t
    FROM unnest(string_to_array(lower(
      coalesce(title, '') || E'\\n' || coalesce(brand, '') || E'\\n'
      || coalesce(product_type, '') || E'\\n' || coalesce(description, '')
    ), NULL)) WITH ORDINALITY AS chars(c, i)
    WINDOW w AS (ORDER BY i)
  ) AS runs WHERE t IS NOT NULL
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
