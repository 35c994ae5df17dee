"""`modiste demo`: import the committed sample catalog, ingest it and show what it found."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from modiste.catalog.db import Database
from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.cli._apps import CliState, app, state
from modiste.cli.catalog import ingest_all, open_db, print_import_report, print_ingest_summary

DEMO_FEEDS = ("luma-studio.csv", "second-hand-shop.csv")


def demo_catalog_dir() -> Path:
    """The sample catalog that ships in the repository (examples/demo-catalog)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "demo-catalog"
        if (candidate / DEMO_FEEDS[0]).is_file():
            return candidate
    raise typer.BadParameter("examples/demo-catalog not found (run from a checkout)")


@app.command()
def demo(
    ctx: typer.Context,
    catalog: Path | None = typer.Option(None, help="Folder with the demo feeds."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the web UI and API after."),
    host: str = typer.Option("127.0.0.1", help="Address for the server."),
    port: int = typer.Option(8000, help="Port for the server."),
) -> None:
    """Import and ingest the sample catalog, show what Modiste found, then serve the web UI."""
    st = state(ctx)
    folder = catalog or demo_catalog_dir()
    db = open_db(st)
    for name in DEMO_FEEDS:
        print_import_report(st, import_feed(db, folder / name))
    print_ingest_summary(st, ingest_all(st, db))
    with db.session() as session:
        status = catalog_status(session)
    images = status["images"]
    st.console.print(
        f"[bold green]demo catalog ready[/] in {st.settings.resolved_data_dir}: "
        f"{status['sellers']} sellers, {status['products']} products, "
        f"{images['stored']}/{images['total']} images stored, {images['failed']} failed"
    )
    _show_findings(st, db)
    if serve:
        from modiste.api.app import run_server

        st.console.print(
            f"[bold]Open http://{host}:{port}/[/] (web UI; API docs at /docs). Ctrl-C stops it."
        )
        run_server(st.settings, host=host, port=port)


def _show_findings(st: CliState, db: Database) -> None:
    """One ordered gallery and the offer groups: what ingest did, in a few lines."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from modiste.catalog.schema import DuplicateGroup, ImageRow, ProductRow

    with db.session() as session:
        product = session.scalars(
            select(ProductRow)
            .options(selectinload(ProductRow.images).selectinload(ImageRow.shot))
            .order_by(ProductRow.id)
        ).first()
        if product is not None:
            table = Table(title=f"gallery of {product.title!r}, ordered by the default regulation")
            for col in ("rank", "feed position", "file", "shot", "why"):
                table.add_column(col)
            for img in sorted(product.images, key=lambda i: (i.gallery_rank or 999, i.position)):
                table.add_row(
                    str(img.gallery_rank or "-"),
                    str(img.position + 1),
                    Path(img.source).name,
                    img.shot.label if img.shot else "-",
                    img.gallery_reason or "",
                )
            st.console.print(table)
        for group in session.scalars(
            select(DuplicateGroup)
            .where(DuplicateGroup.kind == "offer")
            .options(selectinload(DuplicateGroup.members))
        ):
            offers = ", ".join(m.reason or "" for m in group.members)
            st.console.print(f"offer group #{group.id}: the same item at {offers}")
