"""Entry point: imports every command module (which attach to the apps) and runs."""

from __future__ import annotations

import sys

from modiste.cli._apps import app
from modiste.errors import ModisteError


def _load_commands() -> None:
    # Imported for their side effect of registering commands on the Typer apps.
    from modiste.cli import (  # noqa: F401
        catalog,
        dedupe,
        demo,
        detect,
        search,
        serve,
        shots,
        sort,
        text,
        visual,
    )


def main() -> None:
    _load_commands()
    try:
        app()
    except ModisteError as e:
        from rich.console import Console

        # soft_wrap: one line however long (paths, URLs), even when stderr is not a terminal
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(1)
