"""`modiste demo`: import the committed sample catalog, ingest it and show what it found."""

from __future__ import annotations

from pathlib import Path

import typer

from modiste.catalog.importer import import_feed
from modiste.catalog.repository import catalog_status
from modiste.cli._apps import app, state
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
) -> None:
    """Import and ingest the sample catalog, then print the catalog status."""
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
