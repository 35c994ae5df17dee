"""``modiste dedupe`` (find duplicates in a folder or an items CSV) and ``modiste eval dedupe``."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from modiste.cli._apps import app, eval_app, state
from modiste.cli.progress import task_bar
from modiste.errors import FeedError, ModisteError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def _single_threaded_opencv() -> None:
    import cv2

    cv2.setNumThreads(1)  # 32 px thumbnails: OpenCV's thread pool only adds overhead


def _read_items(images: Path | None, items_csv: Path | None) -> list[dict[str, str]]:
    """Rows with ``image_path`` (absolute) and optional id, seller, product_id, price."""
    if images is not None:
        if not images.is_dir():
            raise FeedError(f"{images}: not a folder")
        paths = sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        return [{"image_path": str(p)} for p in paths]
    assert items_csv is not None
    try:
        with items_csv.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise FeedError(f"{items_csv}: cannot read ({e.strerror or e})") from e
    if not rows or "image_path" not in rows[0]:
        raise FeedError(f"{items_csv}: expected an image_path column")
    for r in rows:
        r["image_path"] = str((items_csv.parent / r["image_path"]).resolve())
    return rows


def _price(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


@app.command("dedupe")
def dedupe_cmd(
    ctx: typer.Context,
    images: Path | None = typer.Option(None, help="A folder of images (each its own product)."),
    items: Path | None = typer.Option(
        None, help="CSV with image_path and optional id, seller, product_id, price."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Write matches and groups here."),
    accept: float | None = typer.Option(
        None, help="Alignment score to accept (default tuned); with --images or --items."
    ),
    recompute: bool = typer.Option(
        False,
        help="Catalog: verify every stored image again (after an upgrade) instead of only the "
        "new ones.",
    ),
) -> None:
    """Find exact and near-duplicate images, relistings, shared photos and offer groups.

    With no --images/--items, works on the catalog: fingerprints what is new, regroups, stores
    the groups (review them in the web UI) and prints the offer groups with each shop's price.
    """
    from modiste.cleaning.dedupe import DedupeConfig, DedupeItem, DuplicateFinder
    from modiste.evaluation.report import write_json
    from modiste.imaging.hashes import fingerprint_file

    if images is not None and items is not None:
        raise typer.BadParameter("give at most one of --images or --items")
    st = state(ctx)
    if images is None and items is None:
        if accept is not None:
            raise typer.BadParameter("--accept applies to --images or --items, not the catalog")
        _dedupe_catalog(st, json_path, recompute=recompute)
        return
    _single_threaded_opencv()
    rows = _read_items(images, items)
    config = DedupeConfig() if accept is None else DedupeConfig(accept=accept)
    finder = DuplicateFinder(config)
    skipped: list[dict[str, str]] = []
    with task_bar(st.err) as bar:
        task = bar.add_task("fingerprint", total=len(rows))
        for r in rows:
            try:
                fp = fingerprint_file(r["image_path"], max_pixels=st.settings.max_image_pixels)
            except ModisteError as e:
                skipped.append({"image_path": r["image_path"], "error": str(e)})
            else:
                finder.add(
                    [
                        DedupeItem(
                            id=r.get("id") or r["image_path"],
                            seller=r.get("seller") or "default",
                            product_id=r.get("product_id") or None,
                            price=_price(r.get("price")),
                            fingerprint=fp,
                        )
                    ]
                )
            bar.advance(task)
    matches, groups, offers = finder.matches(), finder.groups(), finder.offer_groups()
    table = Table("kind", "a", "b", "score", title=f"{len(matches)} duplicate pairs")
    for m in sorted(matches, key=lambda m: (m.kind, -m.score))[:50]:
        table.add_row(m.kind.value, Path(m.a).name, Path(m.b).name, f"{m.score:.3f}")
    st.console.print(table)
    st.console.print(
        f"{len(groups)} duplicate groups, {len(offers)} offer groups, {len(skipped)} unreadable"
    )
    if json_path:
        report = {
            "n_images": len(rows),
            "settings": asdict(config),
            "matches": [{**asdict(m), "action": m.action} for m in matches],
            "groups": [asdict(g) for g in groups],
            "offer_groups": [asdict(g) for g in offers],
            "unreadable": skipped,
        }
        write_json(report, json_path)
        st.console.print(f"-> {json_path}")


@eval_app.command("dedupe")
def eval_dedupe_cmd(
    ctx: typer.Context,
    data: Path = typer.Option(..., help="CSV with image_path, group_id (same group = duplicates)."),
    json_path: Path = typer.Option(..., "--json", help="Report JSON."),
    accept: float | None = typer.Option(None, help="Alignment score to accept (default tuned)."),
) -> None:
    """Pairwise precision, recall and F1 of duplicate groups, and seconds per 1000 images."""
    from modiste.cleaning.dedupe import DedupeConfig
    from modiste.evaluation.dedupe import evaluate_dedupe, read_groups_csv
    from modiste.evaluation.report import write_json

    st = state(ctx)
    _single_threaded_opencv()
    config = DedupeConfig() if accept is None else DedupeConfig(accept=accept)
    n = len(read_groups_csv(data))
    with task_bar(st.err) as bar:
        task = bar.add_task("fingerprint", total=n)
        report = evaluate_dedupe(
            data,
            config,
            progress=lambda k: bar.advance(task, k),
            max_pixels=st.settings.max_image_pixels,
        )
    write_json(report, json_path)
    st.console.print(
        f"F1 {report['f1']:.3f}  precision {report['precision']:.3f}  "
        f"recall {report['recall']:.3f}  ({report['n_images']} images, "
        f"{report['n_true_pairs']} true pairs, {report['seconds_per_1000']:.2f} s/1000) "
        f"-> {json_path}"
    )


def _dedupe_catalog(st: Any, json_path: Path | None, *, recompute: bool) -> None:
    from modiste.cleaning.catalog_dedupe import DedupeReport, forget_matches
    from modiste.cli.catalog import ingest_all, open_db
    from modiste.evaluation.report import write_json

    db = open_db(st, migrate=False)
    if recompute:
        with db.session() as session:
            forget_matches(session)
    summary = ingest_all(st, db, stages=["store", "dedupe"])  # fingerprints new images, regroups
    report = summary.reports["dedupe"]
    assert isinstance(report, DedupeReport)
    st.console.print(
        f"{report.images} images ({report.compared} verified, the rest read back): "
        f"groups {report.groups or 'none'}, "
        f"{report.hidden_copies} copies hidden, {report.relisted_products} relisted products"
    )
    table = Table(
        "kind", "offers (seller: price)", title=f"{len(report.offer_groups)} offer groups"
    )
    for group in report.offer_groups:
        offers = ", ".join(
            f"{o['seller']}: {o['price'] if o['price'] is not None else '?'} (#{o['product_id']})"
            for o in group["offers"]  # type: ignore[attr-defined]
        )
        table.add_row(str(group["kind"]), offers)
    st.console.print(table)
    if json_path:
        write_json(asdict(report), json_path)
        st.console.print(f"-> {json_path}")
