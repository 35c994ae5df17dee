"""`modiste search ...`: text now; photo and product search attach here too."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from modiste.cli._apps import app, state
from modiste.cli.catalog import open_db
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
    category: str | None = typer.Option(None, help="Product type contains this."),
    gender: str | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    seller: str | None = None,
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
