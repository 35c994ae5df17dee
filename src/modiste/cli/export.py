"""``modiste export``: each product's gallery for one sales channel, fixed copies, feed, report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import typer
from rich.progress import Progress
from rich.table import Table

from modiste.cli._apps import CliState, app, state
from modiste.compliance.export import (
    FEED_FILE,
    REPORT_FILE,
    ExportProduct,
    ExportReport,
    count_catalog_products,
    default_ocr,
    export_channel,
    prepare_out,
    products_from_catalog,
    products_from_folders,
)
from modiste.compliance.profiles import load_profile
from modiste.errors import ImageDecodeError
from modiste.gallery.taxonomy import UNKNOWN
from modiste.imaging import decode_image


def check_base_url(value: str) -> str:
    """An http(s) address for the feed's image links, or "" for links relative to the feed."""
    value = value.strip()
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise typer.BadParameter("must be an http(s) address such as https://cdn.example.com/x")
    return value


def _folder_products(st: CliState, path: Path) -> list[ExportProduct]:
    import modiste.cli.sort as sort_cli  # the same classifier `modiste sort` uses

    classifier = sort_cli.default_classifier_factory(st.settings)

    def labels(files: Sequence[Path]) -> list[tuple[str, float]]:
        out: list[tuple[str, float] | None] = []
        decoded = []
        for f in files:
            try:
                img = decode_image(f, draft_size=256, max_pixels=st.settings.max_image_pixels)
                decoded.append(img.image)
                out.append(None)
            except ImageDecodeError:
                out.append((UNKNOWN, 0.0))  # the export reports the file as unreadable
        predictions = iter(classifier.predict(decoded) if decoded else [])
        return [o or ((p := next(predictions)).label, float(p.confidence)) for o in out]

    return products_from_folders(sort_cli.find_products(path), labels)


def _print_report(st: CliState, report: ExportReport, out: Path, *, rows: int = 50) -> None:
    """The products that need a person, most things first (all of it is in report.json)."""
    waiting = sorted(
        (p for p in report.products if p.needs_count), key=lambda p: (-p.needs_count, p.product)
    )
    if waiting:
        table = Table(title=f"needs a person for {report.profile}", title_justify="left")
        for col in ("product", "photos", "fixed", "needs a person"):
            table.add_column(col, justify="right" if col in ("photos", "fixed") else "left")
        for p in waiting[:rows]:
            needs = [f"{n.action}: {n.reason}" for i in p.images for n in i.needs]
            needs += [f"{n.action}: {n.reason}" for n in p.needs]
            table.add_row(p.product, str(len(p.images)), str(p.fix_count), "\n".join(needs))
        st.console.print(table)
        if len(waiting) > rows:
            st.console.print(f"... and {len(waiting) - rows} more products in {out / REPORT_FILE}")
    s = report.summary()
    st.console.print(
        f"{s['products_ready']} of {s['products']} products ready; {s['fixes']} fixes, "
        f"{s['needs_person']} things need a person. Wrote {out / FEED_FILE} and "
        f"{out / REPORT_FILE}",
        highlight=False,
    )


@app.command("export")
def export_command(
    ctx: typer.Context,
    path: Path | None = typer.Argument(
        None, help="A folder of product folders (like `modiste sort`); without it, the catalog."
    ),
    profile: str = typer.Option(..., "--profile", "-p", help="Channel profile name or file."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (new or empty)."),
    base_url: str = typer.Option(
        "",
        "--base-url",
        help="Where the folder will be served: the feed's image links start with it.",
        callback=check_base_url,
    ),
    allow_downscale: bool = typer.Option(
        False, "--allow-downscale", help="Shrink a photo that no quality step fits in max_bytes."
    ),
    force: bool = typer.Option(False, "--force", help="Write into a folder that has files."),
) -> None:
    """Export each product's gallery in the channel's order, with safe fixes on copies, a
    Google-Merchant feed and a report of what was fixed and what needs a person."""
    st = state(ctx)
    chosen = load_profile(profile, st.settings)
    if path is not None:
        folders = _folder_products(st, path)
        products: Iterable[ExportProduct] = folders
        total = len(folders)
    else:
        from modiste.cli.catalog import open_db
        from modiste.imaging.store import open_image_store

        db = open_db(st, migrate=False)
        total = count_catalog_products(db)
        products = products_from_catalog(db, open_image_store(st.settings))  # folder or S3
    prepare_out(out, force=force)
    with Progress(console=st.err, transient=True) as bar:
        task = bar.add_task("exporting", total=total)
        report = export_channel(
            products, chosen, out, base_url=base_url, allow_downscale=allow_downscale,
            ocr=default_ocr(), max_pixels=st.settings.max_image_pixels,
            progress=lambda _: bar.advance(task),
        )  # fmt: skip
    _print_report(st, report, out)
