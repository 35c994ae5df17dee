"""``modiste check``: does each gallery meet a sales channel's image rules (a profile)?"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from modiste.cli._apps import CliState, app, state
from modiste.compliance.check import ProductReport, check_gallery, report_dict
from modiste.compliance.measure import ImageInput, OcrLike, default_ocr
from modiste.compliance.profiles import Profile, list_profiles, load_profile
from modiste.errors import ImageDecodeError
from modiste.gallery.taxonomy import UNKNOWN
from modiste.imaging import decode_image

ClassifierFactory = Callable[..., object]


def _folder_inputs(st: CliState, files: Sequence[Path], classifier: object) -> list[ImageInput]:
    """Each photo with its shot class from the shipped classifier (as ``modiste sort`` does);
    an unreadable one keeps no label and is reported by the check."""
    decoded, slots = [], []
    for i, f in enumerate(files):
        try:
            decoded.append(
                decode_image(f, draft_size=256, max_pixels=st.settings.max_image_pixels).image
            )
            slots.append(i)
        except ImageDecodeError:
            continue
    predictions = classifier.predict(decoded) if decoded else []  # type: ignore[attr-defined]
    shots = dict(zip(slots, predictions, strict=True))
    return [
        ImageInput(
            key=f.name,
            path=f,
            label=shots[i].label if i in shots else UNKNOWN,
            confidence=float(shots[i].confidence) if i in shots else 0.0,
            position=i,
        )
        for i, f in enumerate(files)
    ]


def run_check(
    st: CliState,
    path: Path,
    profile: Profile,
    *,
    category: str | None = None,
    classifier_factory: ClassifierFactory | None = None,
    ocr: OcrLike | None = None,
) -> list[ProductReport]:
    """Check folders of products (one sub-folder each, like ``modiste sort``); injectable
    classifier and OCR so tests need no model."""
    import modiste.cli.sort as sort_cli

    products = sort_cli.find_products(path)
    classifier = (classifier_factory or sort_cli.default_classifier_factory)(st.settings)
    reports = []
    with Progress(console=st.err, transient=True) as progress:
        task = progress.add_task("checking", total=len(products))
        for name, _folder, files in products:
            inputs = _folder_inputs(st, files, classifier)
            reports.append(
                check_gallery(
                    profile, inputs, category, product=name, ocr=ocr,
                    max_pixels=st.settings.max_image_pixels,
                )
            )  # fmt: skip
            progress.advance(task)
    return reports


def print_reports(st: CliState, profile: Profile, reports: Iterable[ProductReport]) -> None:
    """One line per violation, products worst first; skipped images and unchecked rules too."""
    reports = sorted(reports, key=lambda r: (-r.violation_count, r.product))
    table = Table(title=f"{profile.name}: {profile.description}", title_justify="left")
    for col in ("product", "image", "rule", "problem"):
        table.add_column(col, no_wrap=col != "problem", overflow="fold")
    passed = 0
    for r in reports:
        if r.ok and not r.errors:
            passed += 1
        for v in r.violations:
            table.add_row(str(r.product), "(gallery)", v.rule, v.message)
        for i in r.images:
            for v in i.violations:
                table.add_row(str(r.product), i.image, v.rule, v.message)
            for v in i.skipped:
                table.add_row(str(r.product), i.image, v.rule, v.message, style="dim")
        for image, why in r.errors:
            table.add_row(str(r.product), image, "-", f"skipped: {why}", style="red")
    if table.row_count:
        st.console.print(table)
    failing = sum(1 for r in reports if not r.ok)
    st.console.print(
        f"{len(reports)} product{'s' if len(reports) != 1 else ''} checked against "
        f"{profile.name}: {passed} pass, "
        f"{failing} with violations",
        highlight=False,
    )


def _write_json(st: CliState, profile: Profile, reports: list[ProductReport], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report_dict(profile, reports), indent=2, ensure_ascii=False)
    out.write_text(text + "\n", encoding="utf-8")
    st.console.print(f"wrote {out}", highlight=False)


@app.command("check")
def check_command(
    ctx: typer.Context,
    path: Path | None = typer.Argument(
        None,
        help="A product folder of images, or a folder of product folders. Without it, the "
        "catalog is checked (stored shot labels and fingerprints; results stored).",
    ),
    profile: str = typer.Option(
        ..., "--profile", "-p", help="A channel profile: a shipped or saved name, or a YAML file."
    ),
    category: str | None = typer.Option(
        None, "--category", "-c", help="Category path for the regulation's overrides (folders)."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report here."),
) -> None:
    """Check galleries against a channel profile's image rules; exits 0 even with violations."""
    st = state(ctx)
    prof = load_profile(profile, st.settings)
    if path is None:
        if category is not None:
            raise typer.BadParameter("--category applies to a folder PATH; the catalog uses "
                                     "each product's type")  # fmt: skip
        reports = check_catalog_cli(st, prof)
    else:
        reports = run_check(st, path, prof, category=category, ocr=default_ocr())
    print_reports(st, prof, reports)
    if json_out is not None:
        _write_json(st, prof, reports, json_out)


def check_catalog_cli(st: CliState, profile: Profile) -> list[ProductReport]:
    """Check every product of the catalog and store the results (the API's fast path)."""
    from modiste.cli.catalog import open_db
    from modiste.compliance.catalog import check_catalog

    db = open_db(st, migrate=False)
    try:
        with Progress(console=st.err, transient=True) as progress:
            task = progress.add_task("checking", total=None)
            return check_catalog(
                st.settings, db, profile, ocr=default_ocr(),
                progress=lambda n: progress.update(task, completed=n),
            )  # fmt: skip
    finally:
        db.dispose()


@app.command("profiles")
def profiles_command(ctx: typer.Context) -> None:
    """The channel profiles: shipped ones and those saved in DATA_DIR/profiles."""
    st = state(ctx)
    table = Table(title="channel profiles", title_justify="left")
    for col in ("name", "rules", "regulation", "source"):
        table.add_column(col, no_wrap=col != "source", overflow="fold")
    for name in list_profiles(st.settings):
        p = load_profile(name, st.settings)
        table.add_row(p.name, ", ".join(r.id for r in p.rules), p.regulation.name, p.source)
    st.console.print(table)
