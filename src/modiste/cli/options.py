"""Options that several commands share, declared once with their help."""

from __future__ import annotations

from typing import Annotated

import typer

Category = Annotated[
    str | None,
    typer.Option(help="A category path (Men/Tops): that category or below it; or a crop class."),
]
Gender = Annotated[str | None, typer.Option(help="Men, Women, Unisex, Boys or Girls.")]
MinPrice = Annotated[float | None, typer.Option(help="Lowest price.")]
MaxPrice = Annotated[float | None, typer.Option(help="Highest price.")]
Seller = Annotated[str | None, typer.Option(help="Only this seller's products.")]
TopK = Annotated[int, typer.Option(min=1, max=100, help="How many products.")]
