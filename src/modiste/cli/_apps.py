"""The Typer apps that command modules attach to, and the shared CLI state.

Kept apart from :mod:`modiste.cli.app` so command modules can import these without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from modiste.config import Settings

app = typer.Typer(
    name="modiste",
    help="Catalog vision for apparel e-commerce: shot types, gallery ordering, visual search, "
    "catalog cleaning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train the models Modiste ships.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate models on labelled data; JSON reports.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")


@dataclass
class CliState:
    settings: Settings
    console: Console = field(default_factory=lambda: Console(stderr=False))
    err: Console = field(default_factory=lambda: Console(stderr=True))


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Catalog data folder (env MODISTE_DATA_DIR; default ./modiste-data).",
    ),
) -> None:
    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    ctx.obj = CliState(settings=settings)


def state(ctx: typer.Context) -> CliState:
    """The CLI state built by the root callback (settings, consoles)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # invoked without the root callback (tests calling directly)
        obj = CliState(settings=Settings())
        ctx.find_root().obj = obj
    return obj
