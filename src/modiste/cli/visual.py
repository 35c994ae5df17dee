"""`modiste train embedder`, `modiste eval retrieval` and `modiste index rebuild`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from modiste.cli._apps import app, eval_app, state, train_app
from modiste.cli.progress import RichProgress
from modiste.errors import ConfigError

index_app = typer.Typer(help="The visual search index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _embedder(st: Any, projection: str | None, colour_weight: float | None, runtime: str) -> Any:
    from modiste.models.crop_embedder import create_crop_embedder

    proj = None if projection in (None, "none") else projection
    emb = create_crop_embedder(st.settings, projection=proj, runtime=runtime)
    if colour_weight is not None:  # every use: catalog, street photo and "more like this"
        emb = emb.with_recipe(colour_weight=colour_weight, photo_colour_weight=colour_weight)
    return emb


def _parts(emb: Any, items: Any, advance: Any) -> tuple[Any, Any]:
    """Backbone and colour features of ``items`` (combined per use afterwards)."""
    import numpy as np

    from modiste.evaluation.retrieval import embed_items

    both = embed_items(
        lambda ims: np.hstack([emb.cnn_features(ims), emb.colour_features(ims)]),
        items,
        advance=advance,
    )
    return both[:, : emb.features.dim], both[:, emb.features.dim :]


@eval_app.command("retrieval")
def eval_retrieval(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, help="Same-item CSV: product_id, image_path."),
    queries: Path | None = typer.Option(
        None, help="Cross-domain queries: image_path, label[, x1..y2]."
    ),
    gallery: Path | None = typer.Option(None, help="Cross-domain gallery: image_path, label."),
    json_out: Path = typer.Option(..., "--json", help="Where the JSON report goes."),
    projection: str = typer.Option(
        "default", help="'default' (shipped/trained file), a .npz path, or 'none'."
    ),
    heldout: bool = typer.Option(
        False,
        help="Same-item: score only styles the projection was never trained on (queries; "
        "every photo stays in the gallery, as in a catalog).",
    ),
    colour_weight: float | None = typer.Option(None, help="Override the recipe's colour weight."),
    runtime: str = typer.Option("onnx", help="onnx or torch."),
) -> None:
    """Retrieval quality: same-item (--data) or street → catalog (--queries with --gallery)."""
    import numpy as np

    from modiste.evaluation.report import write_json
    from modiste.evaluation.retrieval import (
        crossdomain_metrics,
        load_items,
        same_item_metrics,
    )

    st = state(ctx)
    if (data is None) == (queries is None or gallery is None):
        raise ConfigError("give either --data, or both --queries and --gallery")
    emb = _embedder(st, projection, colour_weight, runtime)
    progress = RichProgress(st.err)
    report: dict[str, Any] = {"embedder": emb.name, "recipe": json.loads(emb.recipe.to_json())}
    try:
        if data is not None:
            items = load_items(data)
            mask = None
            if heldout:
                trained = set(
                    (emb.projection.meta if emb.projection else {}).get("trained_groups", [])
                )
                mask = np.asarray([it.group not in trained for it in items], dtype=bool)
                report["heldout_groups"] = len({items[i].group for i in np.flatnonzero(mask)})
            progress.start("embed", len(items))
            cnn, col = _parts(emb, items, progress.advance)
            labels = [it.label for it in items]
            gallery_v, query_v = emb.combine(cnn, col), emb.combine(cnn, col, use="similar")
            report.update(protocol="same_item", data=str(data))
            report.update(same_item_metrics(gallery_v, labels, queries=query_v, query_mask=mask))
            if mask is not None:
                # The protocol before issue #13's check: held-out photos searched among themselves
                # only (a smaller gallery than any catalog; ~0.03 R@1 higher, same_item_cv).
                sub = np.flatnonzero(mask)
                report["heldout_gallery_only"] = same_item_metrics(
                    gallery_v[sub], [labels[i] for i in sub], queries=query_v[sub]
                )
        else:
            # Queries are garments cut from street photos: embedded the way the search service
            # embeds a shopper's photo; the gallery the way the catalog is indexed.
            assert queries is not None and gallery is not None
            q, g = load_items(queries, "label"), load_items(gallery, "label")
            progress.start("embed", len(q) + len(g))
            qv = emb.combine(*_parts(emb, q, progress.advance), use="photo")
            gv = emb.combine(*_parts(emb, g, progress.advance))
            report.update(protocol="crossdomain", queries=str(queries), gallery=str(gallery))
            report.update(crossdomain_metrics(qv, [i.label for i in q], gv, [i.label for i in g]))
    finally:
        progress.close()
    write_json(report, json_out)
    shown = {k: v for k, v in report.items() if isinstance(v, int | float)}
    st.console.print_json(json.dumps(shown))


@train_app.command("embedder")
def train_embedder_cmd(
    ctx: typer.Context,
    magento: Path = typer.Option(
        ..., help="Same-item CSV with style_id (magento_luma/gallery.csv)."
    ),
    crossdomain: Path | None = typer.Option(
        None, help="Folder from `python -m modiste.evaluation.build_sets crossdomain`."
    ),
    out: Path | None = typer.Option(None, help="Output .npz (default DATA_DIR/models/...)."),
    report: Path | None = typer.Option(None, help="JSON report of held-out metrics."),
    cache_dir: Path | None = typer.Option(None, help="Cache backbone features here."),
    steps: int = 600,
    out_dim: int = 256,
    seed: int = 0,
    domain_positives: bool = typer.Option(
        False, help="Category batches: half street crops, half catalog photos of each class."
    ),
    street_views: bool = typer.Option(
        False, help="Also train on mirrored, tight and wider-padded street crops."
    ),
    keep_projection: Path | None = typer.Option(
        None, help="A trained .npz: keep its projection (same-item unchanged), refit the heads."
    ),
) -> None:
    """Learn the projection of backbone features (metric learning; see docs/decisions)."""
    from modiste.evaluation.report import write_json
    from modiste.models.crop_embedder import create_crop_embedder, projection_name
    from modiste.training.embedder import EmbedderTrainConfig, train_embedder

    st = state(ctx)
    base = create_crop_embedder(st.settings, projection=None, runtime="onnx")
    cfg = EmbedderTrainConfig(
        magento,
        crossdomain,
        seed=seed,
        steps=steps,
        out_dim=out_dim,
        domain_positives=domain_positives,
        street_views=street_views,
        keep_projection=keep_projection,
    )
    progress = RichProgress(st.err)
    progress.start("features", None)  # type: ignore[arg-type]  # unknown total
    try:
        proj, rep = train_embedder(base, cfg, cache_dir, advance=progress.advance)
    finally:
        progress.close()
    path = out or st.settings.model_dir / projection_name(st.settings.backbone)
    proj.save(path)
    rep["file"] = str(path)
    rep["bytes"] = path.stat().st_size
    if report:
        write_json(rep, report)
    st.console.print_json(json.dumps(rep, default=str))


@index_app.command("rebuild")
def index_rebuild(
    ctx: typer.Context,
    redetect: bool = typer.Option(False, help="Run the detector again instead of reusing boxes."),
) -> None:
    """Rebuild the visual index from the catalog (after changing backbone or embedder)."""
    from modiste.cli.catalog import open_db
    from modiste.search.indexing import eligible_image_ids, rebuild_index
    from modiste.search.visual import load_detector

    st = state(ctx)
    db = open_db(st, migrate=False)
    progress = RichProgress(st.err)
    progress.start("index", len(eligible_image_ids(db)))
    try:
        counts = rebuild_index(
            st.settings,
            db,
            detector=load_detector(st.settings),
            redetect=redetect,
            advance=progress.advance,
        )
    finally:
        progress.close()
    st.console.print_json(json.dumps(counts))
