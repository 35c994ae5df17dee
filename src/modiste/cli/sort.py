"""``modiste sort`` (classify and order product galleries on disk) and ``modiste regulations``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import typer
import yaml
from PIL import Image
from rich.progress import Progress
from rich.syntax import Syntax
from rich.table import Table

from modiste.cli._apps import CliState, app, state
from modiste.config import Settings
from modiste.domain import ShotPrediction
from modiste.errors import ImageDecodeError, ModelError, NotFoundError
from modiste.gallery.ordering import GalleryItem, OrderedGallery, order_gallery
from modiste.gallery.regulation import (
    Regulation,
    list_regulations,
    resolve_regulation,
    saved_regulation_dirs,
)
from modiste.gallery.taxonomy import load_taxonomy
from modiste.imaging import decode_image

regulations_app = typer.Typer(
    help="List and show gallery regulations and the shot taxonomy.", no_args_is_help=True
)
app.add_typer(regulations_app, name="regulations")

# Chosen by suffix to find candidates; decode_image still checks the bytes and refuses bad files.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


class ShotClassifierLike(Protocol):
    def predict(self, images: Sequence[Image.Image]) -> list[ShotPrediction]: ...


ClassifierFactory = Callable[[Settings], ShotClassifierLike]


def default_classifier_factory(settings: Settings) -> ShotClassifierLike:
    """The shipped shot classifier, imported only when a sort runs (it pulls in torch)."""
    try:
        from modiste.gallery.classifier import create_shot_classifier
    except ImportError as e:
        raise ModelError(f"the shot classifier is not available ({e})") from e
    return create_shot_classifier(settings)


@dataclass
class ProductResult:
    name: str
    folder: Path
    gallery: OrderedGallery
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.name,
            "folder": str(self.folder),
            **self.gallery.to_dict(),
            "errors": [{"file": f, "error": e} for f, e in self.errors],
        }


def _natural_key(path: Path) -> list[Any]:
    # img2.jpg before img10.jpg: the order a merchant numbered the files in.
    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", path.name)]


def _images_in(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted((p for p in files if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def find_products(path: Path) -> list[tuple[str, Path, list[Path]]]:
    """``(name, folder, images)`` per product: ``path`` if it holds images, else its sub-folders."""
    if not path.is_dir():
        raise NotFoundError(f"{path} is not a folder of product images")
    own = _images_in(path)
    if own:
        return [(path.name, path, own)]
    products = []
    for sub in sorted((p for p in path.iterdir() if p.is_dir()), key=_natural_key):
        images = _images_in(sub)
        if images and not sub.name.startswith("."):
            products.append((sub.name, sub, images))
    if not products:
        raise NotFoundError(
            f"no images under {path} (expected images, or one sub-folder per product)"
        )
    return products


def sort_product(
    name: str,
    folder: Path,
    files: Sequence[Path],
    classifier: ShotClassifierLike,
    regulation: Regulation,
    category: str | None,
    settings: Settings,
) -> ProductResult:
    """Decode, classify and order one product; undecodable files are reported, not fatal."""
    decoded: list[tuple[int, Path, Image.Image]] = []
    errors: list[tuple[str, str]] = []
    for position, f in enumerate(files):
        try:
            img = decode_image(f, draft_size=256, max_pixels=settings.max_image_pixels).image
        except ImageDecodeError as e:
            errors.append((f.name, str(e)))
            continue
        decoded.append((position, f, img))
    predictions = classifier.predict([img for _, _, img in decoded]) if decoded else []
    if len(predictions) != len(decoded):
        raise ModelError(
            f"the classifier returned {len(predictions)} predictions for {len(decoded)} images"
        )
    items = [
        GalleryItem(f.name, p.label, float(p.confidence), position)
        for (position, f, _), p in zip(decoded, predictions, strict=True)
    ]
    return ProductResult(name, folder, order_gallery(items, regulation, category), errors)


def _saved_dirs(st: CliState, extra: Sequence[Path] = ()) -> list[Path]:
    """The catalog's saved regulations, then the folders given with --dir."""
    return [*saved_regulation_dirs(st.settings), *extra]


def run_sort(
    st: CliState,
    path: Path,
    *,
    regulation_ref: str | None = None,
    category: str | None = None,
    json_out: Path | None = None,
    taxonomy_path: Path | None = None,
    classifier_factory: ClassifierFactory | None = None,
) -> list[ProductResult]:
    """The body of ``modiste sort``; the classifier is injected so tests need no model."""
    taxonomy = load_taxonomy(taxonomy_path)
    ref = regulation_ref or st.settings.regulation  # MODISTE_REGULATION, as ingest uses it
    regulation = resolve_regulation(ref, _saved_dirs(st), taxonomy=taxonomy)
    products = find_products(path)
    classifier = (classifier_factory or default_classifier_factory)(st.settings)
    results = []
    with Progress(console=st.err, transient=True) as progress:
        task = progress.add_task("sorting", total=len(products))
        for name, folder, files in products:
            results.append(
                sort_product(name, folder, files, classifier, regulation, category, st.settings)
            )
            progress.advance(task)
    for result in results:
        _print_result(st, result)
    if json_out is not None:
        payload = {
            "path": str(path),
            "regulation": regulation.name,
            "category": category,
            "products": [r.to_dict() for r in results],
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        st.console.print(f"wrote {json_out}")
    return results


def _print_result(st: CliState, result: ProductResult) -> None:
    g = result.gallery
    title = f"{result.name} - {g.regulation}" + (f" [{g.override}]" if g.override else "")
    table = Table(title=title, title_justify="left")
    for col in ("rank", "file", "shot", "confidence", "reason"):
        right = col in ("rank", "confidence")
        table.add_column(col, justify="right" if right else "left", no_wrap=col != "reason")
    for o in g.items:
        i = o.item
        table.add_row(str(o.rank), i.key, i.label, f"{i.confidence:.2f}", o.reason)
    for e in g.excluded:
        i = e.item
        table.add_row("-", i.key, i.label, f"{i.confidence:.2f}", e.reason, style="dim")
    st.console.print(table)
    for line in g.missing_reasons:
        st.console.print(f"  [yellow]missing:[/] {line}", highlight=False)
    for file, why in result.errors:
        st.err.print(f"  [red]skipped[/] {file}: {why}", highlight=False)


@app.command("sort")
def sort_command(
    ctx: typer.Context,
    path: Path | None = typer.Argument(
        None,
        help="A product folder of images, or a folder of product folders. "
        "Without it, the catalog is sorted (and its stored order updated).",
    ),
    regulation: str | None = typer.Option(
        None,
        "--regulation",
        "-r",
        help="Regulation file, or a shipped or saved name (default: MODISTE_REGULATION, else "
        "default).",
    ),
    category: str | None = typer.Option(
        None, "--category", "-c", help="Category path for overrides, e.g. Gear/Bags."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write the result as JSON here."
    ),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="User taxonomy YAML to merge."),
) -> None:
    """Classify each product's images and order its gallery by a regulation, with reasons."""
    if path is None:
        if category is not None or taxonomy is not None:
            raise typer.BadParameter(
                "--category and --taxonomy apply to a folder PATH; the catalog uses each "
                "product's type and the configured taxonomy"
            )
        sort_catalog(state(ctx), regulation, json_out)
        return
    run_sort(
        state(ctx), path, regulation_ref=regulation, category=category, json_out=json_out,
        taxonomy_path=taxonomy,
    )  # fmt: skip


@regulations_app.command("list")
def regulations_list(
    ctx: typer.Context,
    dirs: list[Path] = typer.Option([], "--dir", help="Extra folder of regulation files."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="User taxonomy YAML to merge."),
) -> None:
    """The shipped regulations, those saved in DATA_DIR/regulations and those in --dir."""
    st = state(ctx)
    table = Table(title="regulations", title_justify="left")
    for col in ("name", "max images", "required", "excluded", "overrides", "description"):
        table.add_column(col, no_wrap=col == "name")
    for reg in list_regulations(_saved_dirs(st, dirs), taxonomy=load_taxonomy(taxonomy)):
        r = reg.rules
        overrides = ", ".join(p for o in reg.categories for p in o.match)
        table.add_row(
            reg.name, str(r.max_images or "-"), ", ".join(r.required) or "-",
            ", ".join(r.exclude) or "-", overrides or "-", reg.description,
        )  # fmt: skip
    st.console.print(table)


@regulations_app.command("show")
def regulations_show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A shipped regulation name, or a file."),
    category: str | None = typer.Option(
        None, "--category", "-c", help="Show the rules in force for this category instead."
    ),
    dirs: list[Path] = typer.Option([], "--dir", help="Extra folder of regulation files."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="User taxonomy YAML to merge."),
) -> None:
    """Print a regulation's YAML (or its effective rules for one category)."""
    st = state(ctx)
    reg = resolve_regulation(name, _saved_dirs(st, dirs), taxonomy=load_taxonomy(taxonomy))
    if category is not None:
        rules, pattern = reg.rules_for(category)
        st.console.print(
            f"# {reg.name} for {category}: "
            + (f"override {pattern!r}" if pattern else "base rules")
        )
        text = yaml.safe_dump(rules.to_dict(), sort_keys=False, default_flow_style=None)
        st.console.print(Syntax(text, "yaml", background_color="default"))
        return
    text = reg.source.read_text(encoding="utf-8") if reg.source else reg.to_yaml()
    st.console.print(f"# {reg.source}" if reg.source else f"# {reg.name}", highlight=False)
    st.console.print(Syntax(text, "yaml", background_color="default"))


@regulations_app.command("taxonomy")
def regulations_taxonomy(
    ctx: typer.Context,
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="User taxonomy YAML to merge."),
) -> None:
    """The shot classes regulations can name, by group, with what each photo shows."""
    st = state(ctx)
    tax = load_taxonomy(taxonomy)
    table = Table(title="shot taxonomy", title_justify="left")
    for col in ("group", "class", "origin", "what the photo shows"):
        table.add_column(col, no_wrap=col != "what the photo shows")
    for group, labels in tax.groups.items():
        for label in labels:
            c = tax.get(label)
            origin = "study" if c.study else ("added" if c.origin == "default" else "user")
            table.add_row(group, label, origin, c.description)
    st.console.print(table)


def sort_catalog(st: CliState, regulation: str | None, json_out: Path | None) -> None:
    """Classify what is new in the catalog, then re-order every product and store the order."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from modiste.catalog.schema import ImageRow, ProductRow
    from modiste.cli.catalog import ingest_all, open_db
    from modiste.gallery.stage import order_products
    from modiste.imaging.store import open_image_store
    from modiste.pipeline.stages import StageContext

    settings = (
        st.settings.model_copy(update={"regulation": regulation}) if regulation else st.settings
    )
    sorted_state = CliState(settings=settings, console=st.console, err=st.err)
    db = open_db(sorted_state, migrate=False)
    ingest_all(sorted_state, db, stages=["store", "shots"])
    order_products(StageContext(settings, db, open_image_store(settings)))
    out = []
    with db.session() as session:
        products = session.scalars(
            select(ProductRow)
            .options(selectinload(ProductRow.images).selectinload(ImageRow.shot))
            .order_by(ProductRow.id)
        )
        for product in products:
            ranked = sorted(
                (i for i in product.images if i.gallery_rank is not None),
                key=lambda i: i.gallery_rank or 0,
            )
            out.append(
                {
                    "product_id": product.id,
                    "external_id": product.external_id,
                    "order": [
                        {
                            "image_id": i.id,
                            "rank": i.gallery_rank,
                            "shot": i.shot.label if i.shot else None,
                            "source": i.source,
                            "reason": i.gallery_reason,
                        }
                        for i in ranked
                    ],
                    "missing": (product.attributes or {}).get("missing_shots", []),
                }
            )
    table = Table(title=f"catalog sorted by {settings.regulation or 'default'}")
    for col in ("product", "shots in order", "missing"):
        table.add_column(col)
    for p in out:
        shots = " → ".join(o["shot"] or "?" for o in p["order"])
        table.add_row(p["external_id"], shots, "; ".join(p["missing"]))
    st.console.print(table)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
        st.console.print(f"-> {json_out}")
