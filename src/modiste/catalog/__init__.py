"""The catalog: database schema, migrations, repository and feed import."""
