"""Entry point: imports every command module (which attach to the apps) and runs."""

from __future__ import annotations

import sys

from modiste.cli._apps import app
from modiste.errors import ModisteError


def _load_commands() -> None:
    # Imported for their side effect of registering commands on the Typer apps.
    from modiste.cli import (  # noqa: F401
        backup,
        catalog,
        check,
        dedupe,
        demo,
        detect,
        export,
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
    except (ModisteError, OSError, UnicodeDecodeError) as e:
        from rich.console import Console

        if isinstance(e, OSError) and e.filename is not None:  # a path a person gave us
            message = f"{e.filename}: {e.strerror or e}"
        elif isinstance(e, UnicodeDecodeError):
            message = f"an input file is not UTF-8 text ({e.reason} at byte {e.start})"
        else:
            message = str(e)
        # soft_wrap: one line however long (paths, URLs), even when stderr is not a terminal
        err = Console(stderr=True, soft_wrap=True)
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        sys.exit(1)
