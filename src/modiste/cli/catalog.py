"""Catalog commands: init, import, ingest, status, products."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from modiste.catalog.db import Database
from modiste.catalog.importer import ImportReport, import_feed
from modiste.catalog.repository import (
    ProductFilter,
    catalog_status,
    get_product,
    list_products,
    product_dict,
)
from modiste.cli._apps import CliState, app, state
from modiste.cli.options import Gender, MaxPrice, MinPrice, Seller
from modiste.cli.progress import RichProgress
from modiste.pipeline.ingest import IngestSummary, run_ingest

products_app = typer.Typer(help="List and show products.", no_args_is_help=True)
app.add_typer(products_app, name="products")


def open_db(st: CliState, *, migrate: bool = True) -> Database:
    if migrate:  # read-only commands must not create a catalog as a side effect
        st.settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(st.settings)
    if migrate:
        db.migrate()
    else:
        db.ensure_ready()
    return db


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data folder and the catalog database (safe to run again)."""
    st = state(ctx)
    open_db(st)
    st.console.print(
        f"catalog ready at [bold]{st.settings.resolved_data_dir}[/] ({Database(st.settings).url})"
    )


def print_import_report(st: CliState, report: ImportReport) -> None:
    st.console.print(
        f"imported {report.source}: [green]{report.created} new[/], {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.images_added} images added, "
        f"{report.images_removed} removed, [red]{len(report.errors)} rows skipped[/]",
        soft_wrap=True,
    )
    notes = [*report.errors, *report.warnings]  # warnings: imported rows that lost a value
    for err in notes[:50]:
        ident = f" (id {err.external_id})" if err.external_id else ""
        st.err.print(f"  line {err.line}{ident}: {err.reason}", highlight=False, soft_wrap=True)
    if len(notes) > 50:
        st.err.print(f"  … and {len(notes) - 50} more")


def print_ingest_summary(st: CliState, summary: IngestSummary) -> None:
    table = Table(title="ingest")
    for col in ("stage", "done", "failed", "skipped", "seconds"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for s in summary.stages:
        table.add_row(s.name, str(s.done), str(s.failed), str(s.skipped), f"{s.seconds:.1f}")
    st.console.print(table)
    for image_id, stage, reason in summary.failures[:20]:
        st.err.print(
            f"  image {image_id} failed at {stage}: {reason}", highlight=False, soft_wrap=True
        )
    if len(summary.failures) > 20:
        st.err.print(f"  … and {len(summary.failures) - 20} more (see `modiste status`)")


def ingest_all(st: CliState, db: Database, **kw: object) -> IngestSummary:
    progress = RichProgress(st.console)
    try:
        return run_ingest(st.settings, db, progress=progress, **kw)  # type: ignore[arg-type]
    finally:
        progress.close()


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    feed: Path = typer.Argument(
        ..., help="CSV/TSV/JSONL feed, or a folder with one sub-folder per product."
    ),
    seller: str | None = typer.Option(None, help="Seller for rows without a 'seller' column."),
    ingest: bool = typer.Option(False, "--ingest/--no-ingest", help="Run ingest right after."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import (or re-import) a product feed. Unchanged rows are skipped; bad rows reported."""
    st = state(ctx)
    db = open_db(st)
    report = import_feed(db, feed, seller=seller)
    if json_out:
        st.console.print_json(json.dumps(report.as_dict()))
    else:
        print_import_report(st, report)
    if ingest:
        print_ingest_summary(st, ingest_all(st, db))


@app.command()
def ingest(
    ctx: typer.Context,
    stages: str | None = typer.Option(None, help="Comma-separated stages (default: all)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Retry images that failed."),
    limit: int | None = typer.Option(None, help="At most this many images per stage."),
    wait: float | None = typer.Option(
        None,
        min=0,
        help="Seconds to wait for another ingest on this data folder to finish "
        "(default MODISTE_INGEST_LOCK_WAIT_S, 0: refuse at once).",
    ),
    engine: str = typer.Option(
        "local",
        help="local: this process; ray: shots, fingerprints, detection and embedding on Ray "
        "workers (MODISTE_RAY_ADDRESS, else a local Ray; pip install 'modiste[ray]').",
    ),
) -> None:
    """Run the ingest stages over images that still need them (resumable).

    One ingest at a time per data folder: a second one waits up to --wait seconds, then stops
    with a message saying which process holds the catalog.
    """
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r}: use local or ray", param_hint="--engine")
    st = state(ctx)
    db = open_db(st)
    names = [s.strip() for s in stages.split(",")] if stages else None
    summary = ingest_all(
        st,
        db,
        stages=names,
        retry_failed=retry_failed,
        limit=limit,
        lock_wait_s=wait,
        engine=engine,
        on_lock_wait=lambda msg: st.err.print(f"[yellow]{msg}[/]"),
    )
    print_ingest_summary(st, summary)


@app.command()
def status(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Counts of sellers, products and images; failures of every stage; missing originals."""
    from modiste.imaging.store import open_image_store

    st = state(ctx)
    db = open_db(st, migrate=False)
    store = open_image_store(st.settings)
    with db.session() as session:
        data = catalog_status(session, original_exists=store.exists_checker())
    data["data_dir"] = str(st.settings.resolved_data_dir)
    if json_out:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    images, missing = data["images"], data["missing_originals"]["images"]
    st.console.print(
        f"[bold]{data['sellers']}[/] sellers, [bold]{data['products']}[/] products, "
        f"[bold]{images['total']}[/] images: [green]{images['stored']} stored[/], "
        f"{images['pending']} pending, [red]{images['failed']} failed to store[/]; "
        f"[red]{data['failed_images']} with a failure at any stage[/]"
    )
    if missing:
        st.console.print(
            f"[red]{missing} stored images have no file in the image store[/] "
            "(a copy or restore without them?): `modiste ingest` fetches them again"
        )
    failed_stages = {k: sum(v.values()) for k, v in data["failures_by_stage"].items()}
    if failed_stages:
        st.console.print(
            "failed by stage: " + ", ".join(f"{k}={v}" for k, v in failed_stages.items())
        )
    if data["failures_by_stage"]:
        table = Table(title="failures by reason")
        table.add_column("stage")
        table.add_column("reason")
        table.add_column("images", justify="right")
        for stage, reasons in data["failures_by_stage"].items():
            for reason, n in reasons.items():
                table.add_row(stage, reason, str(n))
        st.console.print(table)
    if data["stages"]:
        st.console.print(
            "stages: " + ", ".join(f"{k}={v}" for k, v in sorted(data["stages"].items()))
        )
    if data["kept_out_of_search"]:
        st.console.print(
            "kept out of search: "
            + ", ".join(f"{k}={v}" for k, v in data["kept_out_of_search"].items())
        )


@products_app.command("list")
def products_list(
    ctx: typer.Context,
    seller: Seller = None,
    product_type: str | None = typer.Option(
        None, "--type", help="A category path (Men/Tops): that category or below it."
    ),
    gender: Gender = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    query: str | None = typer.Option(
        None, "--query", "-q", help="Text the title or brand contains."
    ),
    limit: int = typer.Option(20, help="Rows per page."),
    offset: int = typer.Option(0, help="Rows to skip (the page start)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List products with filters and pagination."""
    st = state(ctx)
    db = open_db(st, migrate=False)
    flt = ProductFilter(seller, product_type, gender, min_price, max_price, query)
    with db.session() as session:
        rows, total = list_products(session, flt, limit=limit, offset=offset)
        items = [product_dict(p) for p in rows]
    if json_out:
        typer.echo(json.dumps({"total": total, "items": items}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"products {offset + 1}–{offset + len(items)} of {total}")
    for col in ("id", "seller", "feed id", "title", "type", "gender", "price", "images"):
        table.add_column(col)
    for p in items:
        price = f"{p['price']:.2f} {p['currency'] or ''}" if p["price"] is not None else ""
        stored = sum(1 for i in p["images"] if i["status"] == "stored")
        table.add_row(
            str(p["id"]),
            p["seller"],
            p["external_id"],
            p["title"][:50],
            p["product_type"] or "",
            p["gender"] or "",
            price,
            f"{stored}/{len(p['images'])}",
        )
    st.console.print(table)


@products_app.command("show")
def products_show(
    ctx: typer.Context,
    product: str = typer.Argument(..., help="Internal id or feed id."),
    seller: str | None = None,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Show one product with its images."""
    st = state(ctx)
    db = open_db(st, migrate=False)
    with db.session() as session:
        data = product_dict(get_product(session, product, seller))
    if json_out:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    st.console.print(
        f"[bold]{data['title']}[/]  (#{data['id']}, {data['seller']}/{data['external_id']})"
    )
    for key in ("brand", "product_type", "gender", "price", "currency", "link"):
        if data[key] is not None:
            st.console.print(f"  {key}: {data[key]}")
    table = Table()
    for col in ("pos", "status", "size", "source / error"):
        table.add_column(col)
    for img in data["images"]:
        size = f"{img['width']}x{img['height']}" if img["width"] else ""
        table.add_row(str(img["position"]), img["status"], size, img["error"] or img["source"])
    st.console.print(table)


@app.command("feed-from-gallery")
def feed_from_gallery(
    ctx: typer.Context,
    gallery: Path = typer.Argument(
        ..., help="CSV with product_id, image_path (+ title, gender, category...)."
    ),
    out: Path = typer.Option(..., "--out", help="Feed CSV to write."),
) -> None:
    """Write a product feed from a labelled gallery CSV (e.g. the Magento evaluation set)."""
    from modiste.catalog.gallery_feed import gallery_to_feed

    n = gallery_to_feed(gallery, out)
    state(ctx).console.print(f"wrote {n} products to {out}")
