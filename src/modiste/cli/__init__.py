"""The ``modiste`` command line (Typer)."""
