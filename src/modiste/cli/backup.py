"""Backup commands: `modiste backup OUT` and `modiste restore IN`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modiste.catalog.backup import create_backup, restore_backup
from modiste.cli._apps import app, state


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


@app.command()
def backup(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Folder to create (new, or empty)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Back up the data folder: catalog, images, vector index, models, regulations...

    Safe while `modiste serve` and an ingest run: the catalog is a consistent snapshot and the
    files are those it references. The backup is checked against its manifest on restore.
    """
    st = state(ctx)
    report = create_backup(st.settings, out)
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    st.console.print(
        f"backed up {st.settings.resolved_data_dir} to [bold]{report.path}[/]: "
        f"{report.files} files ({_size(report.bytes)}), {report.images} images, "
        f"{report.database} catalog at schema {report.schema_version}",
        soft_wrap=True,
    )
    if report.missing_images:
        st.err.print(
            f"[yellow]{report.missing_images} stored images had no file in the image store[/]: "
            "after a restore, `modiste ingest` fetches them again"
        )


@app.command()
def restore(
    ctx: typer.Context,
    backup_dir: Path = typer.Argument(..., metavar="IN", help="A folder `modiste backup` made."),
    force: bool = typer.Option(
        False, "--force", help="Replace a data folder that is not empty (stop the server first)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Restore a backup into the data folder (--data-dir), checking every file first.

    The data folder must be new or empty unless --force; it is replaced in one rename, only
    after every file matched the manifest, so a corrupt or partial backup changes nothing.
    """
    st = state(ctx)
    report = restore_backup(st.settings, backup_dir, force=force)
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    st.console.print(
        f"restored {report.files} files ({_size(report.bytes)}) into [bold]{report.path}[/]",
        soft_wrap=True,
    )
    if report.needs_upgrade:
        st.console.print("the catalog was made by an older Modiste: run `modiste init` to upgrade")
