"""`modiste search ...`: text now; photo and product search attach here too."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modiste.cli._apps import app, state
from modiste.cli.catalog import open_db
from modiste.cli.options import Category, Gender, MaxPrice, MinPrice, Seller, TopK
from modiste.search.synonyms import load_synonyms
from modiste.search.text import SearchFilters, TextSearch

search_app = typer.Typer(help="Search the catalog by text, photo or product.", no_args_is_help=True)
app.add_typer(search_app, name="search")


def filters_option(
    category: str | None,
    gender: str | None,
    min_price: float | None,
    max_price: float | None,
    seller: str | None,
) -> SearchFilters:
    return SearchFilters(category, gender, min_price, max_price, seller)


@search_app.command("text")
def search_text(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="Words in any language the synonyms know (EN, JA)."),
    category: Annotated[str | None, typer.Option(help="Product type contains this.")] = None,
    gender: Gender = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    seller: Seller = None,
    page: int = 1,
    per_page: int = 20,
    synonyms: Path | None = typer.Option(None, help="Extra synonyms YAML (groups: [[a, b], ...])."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Keyword search with fashion synonyms (パンツ = trousers = pants)."""
    st = state(ctx)
    db = open_db(st, migrate=False)
    searcher = TextSearch(load_synonyms(synonyms))
    flt = filters_option(category, gender, min_price, max_price, seller)
    with db.session() as session:
        results = searcher.search(session, query, flt, page=page, per_page=per_page)
    if json_out:
        typer.echo(json.dumps(asdict(results), indent=2, ensure_ascii=False))
        return
    st.console.print(
        f"{results.total} products for [bold]{query}[/] "
        f"(page {results.page}; terms: {' & '.join('|'.join(c) for c in results.expanded)})",
        highlight=False,
    )
    table = Table()
    for col in ("score", "id", "seller", "title", "type", "price"):
        table.add_column(col)
    for hit in results.hits:
        p = hit.product
        price = f"{p['price']:.2f} {p['currency'] or ''}" if p["price"] is not None else ""
        table.add_row(
            f"{hit.score:.2f}",
            str(hit.product_id),
            p["seller"],
            hit.title,
            p["product_type"] or "",
            price,
        )
    st.console.print(table)


def _print_hits(st: object, hits: list, indent: str = "") -> None:
    table = Table()
    for col in ("score", "product", "image", "crop", "type", "price"):
        table.add_column(col)
    for h in hits:
        p = h.payload
        table.add_row(
            f"{h.score:.3f}",
            str(h.product_id),
            str(h.image_id or ""),
            str(h.label or ""),
            str(p.get("product_type", "")),
            f"{p['price']:.2f}" if p.get("price") is not None else "",
        )
    st.console.print(table)  # type: ignore[attr-defined]


@search_app.command("image")
def search_image_cmd(
    ctx: typer.Context,
    photo: Path = typer.Argument(..., help="A photo (JPEG, PNG, WebP...)."),
    object_index: int | None = typer.Option(None, "--object", help="Search only object N."),
    k: TopK = 12,
    category: Category = None,
    gender: Gender = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    seller: Seller = None,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Find catalog products that look like each garment in a photo."""
    from modiste.imaging import decode_image
    from modiste.search.visual import create_search_service

    st = state(ctx)
    service = create_search_service(st.settings, open_db(st, migrate=False))
    image = decode_image(photo, max_pixels=st.settings.max_image_pixels).image
    flt = filters_option(category, gender, min_price, max_price, seller)
    objects = service.search_image(image, flt, k, object_index)
    if json_out:
        typer.echo(json.dumps([asdict(o) for o in objects], indent=2, default=str))
        return
    for i, o in enumerate(objects):
        b = o.box
        st.console.print(
            f"[bold]object {i}[/]: {o.label} ({o.confidence:.2f}) "
            f"box {b.x1:.0f},{b.y1:.0f},{b.x2:.0f},{b.y2:.0f}",
            highlight=False,
        )
        _print_hits(st, o.hits)


@search_app.command("product")
def search_product_cmd(
    ctx: typer.Context,
    product: str = typer.Argument(..., help="Feed id or internal id of a catalog product."),
    of_seller: str | None = typer.Option(None, "--of-seller", help="Seller of that feed id."),
    k: TopK = 12,
    category: Category = None,
    gender: Gender = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    seller: Seller = None,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """More like this: products that look like PRODUCT (not itself, not its duplicates)."""
    from modiste.catalog.repository import get_product
    from modiste.search.visual import create_search_service

    st = state(ctx)
    db = open_db(st, migrate=False)
    with db.session() as session:
        product_id = get_product(session, product, of_seller).id
    service = create_search_service(st.settings, db)
    flt = filters_option(category, gender, min_price, max_price, seller)
    hits = service.similar_products(product_id, flt, k)
    if json_out:
        typer.echo(json.dumps([asdict(h) for h in hits], indent=2, default=str))
        return
    _print_hits(st, hits)
