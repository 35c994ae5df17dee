"""`modiste serve` (API + web UI) and `modiste keys create|list|revoke` (API keys)."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.table import Table

from modiste.catalog.api_keys import SCOPES, create_key, list_keys, revoke_key
from modiste.cli._apps import app, state
from modiste.cli.catalog import open_db

keys_app = typer.Typer(help="API keys for write and admin routes.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


class Scope(StrEnum):
    """``--scope`` choices, listed in --help (the ladder is :data:`api_keys.SCOPES`)."""

    read = "read"
    write = "write"
    admin = "admin"


_SCOPE_HELP = (
    "What the key may do; each includes the ones before it. read: reads of a private catalog; "
    "write: catalog edits (products, gallery order, shot labels, duplicate verdicts); "
    "admin: regulations, ingest jobs, deletes."
)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
) -> None:
    """Serve the API (/v1, docs at /docs) and the web UI (/)."""
    from modiste.api.app import run_server

    st = state(ctx)
    open_db(st)  # create or migrate the catalog before the first request
    st.console.print(f"Modiste on http://{host}:{port}/  (API docs: /docs)")
    run_server(st.settings, host=host, port=port)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who uses the key."),
    scope: Scope = typer.Option(Scope.write, "--scope", help=_SCOPE_HELP),
) -> None:
    """Make a key and print it once (only a salted hash is stored)."""
    st = state(ctx)
    db = open_db(st)
    with db.session() as session:
        info, key = create_key(session, name, scope.value)
    st.err.print(f"API key {info.name!r} ({info.scope}) created; it is shown once, store it now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Keys by name and prefix, with scope and last use (to the minute), to find the ones to
    revoke (the keys themselves are not stored)."""
    st = state(ctx)
    db = open_db(st)
    with db.session() as session:
        keys = list_keys(session)
    table = Table(title="API keys")
    for col in ("name", "prefix", "scopes", "created", "last used", "state"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            k.name,
            k.prefix,
            " ".join(s for s in SCOPES if s in k.scopes),
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never",
            "revoked" if k.revoked else "active",
        )
    st.console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context, name: str = typer.Argument(..., help="Key name or prefix.")
) -> None:
    """Revoke a key: requests using it get 401 from now on."""
    st = state(ctx)
    db = open_db(st)
    with db.session() as session:
        info = revoke_key(session, name)
    st.console.print(f"API key {info.name!r} ({info.prefix}) revoked")
