"""`modiste train text`, `modiste eval text`, `modiste labels read`, `train care-symbols`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from modiste.cli._apps import CliState, app, eval_app, state, train_app

labels_app = typer.Typer(
    help="Read care labels (fibre composition, care instructions).", no_args_is_help=True
)
app.add_typer(labels_app, name="labels")


@train_app.command("text")
def train_text(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="CSV of texts."),
    text_column: str = typer.Option(..., "--text-column", help="Column with the title."),
    label_column: str = typer.Option(..., "--label-column", help="Column with the label."),
    out: Path = typer.Option(..., "--out", help="Folder to write model.json + model.npz."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the held-out split."),
    test_size: float = typer.Option(
        0.2, "--test-size", min=0.0, max=0.9, help="Held-out share (0: train on all)."
    ),
    grouped: bool = typer.Option(False, "--grouped", help="Keep copies of a title on one side."),
    c: float = typer.Option(0.5, "--c", min=1e-6, help="SVM regularisation C (> 0)."),
    keep_weights: float = typer.Option(
        1.0,
        "--keep-weights",
        min=0.01,
        max=1.0,
        help="Share of weights kept (prunes the rest; smaller files).",
    ),
    max_char_features: int | None = typer.Option(
        None, "--max-char-features", min=1, help="Cap on character n-gram vocabulary."
    ),
    extra_columns: str = typer.Option(
        "",
        "--extra-columns",
        help="Comma-separated extra input columns (e.g. usage,gender) appended to the text. "
        "Only for feeds that carry them; never the label column.",
    ),
    max_word_features: int | None = typer.Option(
        None, "--max-word-features", min=1, help="Cap on word n-gram vocabulary."
    ),
    pair_weight: float = typer.Option(
        0.0,
        "--pair-weight",
        help="Weight of first-word x last-word (brand x noun) pair features; 0 leaves them out.",
    ),
    image_column: str | None = typer.Option(
        None,
        "--image-column",
        help="Column with a photo path (relative to the CSV): adds a photo head fused with the "
        "title model. Rows without a usable photo use the title.",
    ),
    feature_cache: Path | None = typer.Option(
        None, "--feature-cache", help="Folder caching photo features (default: data folder cache)."
    ),
) -> None:
    """Train a title categorizer (TF-IDF word+char n-grams, linear SVM, calibrated).

    With --image-column, a photo head on the shipped backbone's features is fused with it; the
    fusion and its weight are chosen on a validation split carved from the training side.
    """
    from modiste.cleaning.text import CategorizerConfig
    from modiste.cleaning.text_features import FeatureConfig
    from modiste.training.text import SplitSpec, train_text_model

    st = state(ctx)
    config = CategorizerConfig(
        features=FeatureConfig(
            max_word_features=max_word_features,
            max_char_features=max_char_features,
            pair_weight=pair_weight,
        ),
        c=c,
        keep_weights=keep_weights,
    )
    extra = [col.strip() for col in extra_columns.split(",") if col.strip()]
    split = SplitSpec(split_seed, test_size, grouped)
    if image_column:
        from modiste.training.text_photo import train_text_photo_model

        cache = feature_cache or st.settings.cache_dir / "text-photo"
        with st.console.status("training title + photo categorizer..."):
            model, bad = train_text_photo_model(
                data,
                text_column,
                label_column,
                image_column,
                out,
                config,
                split,
                extra,
                st.settings,
                cache,
            )
        _print_photo_errors(st, bad)
        assert model.photo is not None
        st.console.print(
            f"photo head: {model.info['n_train_photos']} photos, fusion {model.photo.fusion} "
            f"weight {model.photo.weight:g} (chosen on "
            f"{model.photo.info['n_validation']} validation photos)"
        )
    else:
        with st.console.status("training text categorizer..."):
            model = train_text_model(data, text_column, label_column, out, config, split, extra)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    st.console.print(
        f"trained on {model.info['n_train']} rows ({len(model.classes)} classes, "
        f"{model.info['n_features']} features), held out {model.info['n_test_held_out']}; "
        f"wrote {out} ({size / 1e6:.2f} MB)"
    )


@eval_app.command("text")
def eval_text(
    ctx: typer.Context,
    model: Path = typer.Option(..., "--model", exists=True, file_okay=False, help="Model folder."),
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="CSV of texts."),
    text_column: str = typer.Option(..., "--text-column"),
    label_column: str = typer.Option(..., "--label-column"),
    json_out: Path = typer.Option(..., "--json", help="Where to write the JSON report."),
    split_seed: int | None = typer.Option(
        None, "--split-seed", help="Override the split stored in the model."
    ),
    test_size: float | None = typer.Option(
        None,
        "--test-size",
        min=0.0,
        max=0.9,
        help="Override the held-out share (0: score every row).",
    ),
    grouped: bool | None = typer.Option(None, "--grouped/--no-grouped"),
    png: Path | None = typer.Option(
        None, "--png", help="Confusion PNG of the most confused classes (default: beside JSON)."
    ),
    image_column: str | None = typer.Option(
        None,
        "--image-column",
        help="Column with a photo path (relative to the CSV) for a title + photo model.",
    ),
    feature_cache: Path | None = typer.Option(
        None, "--feature-cache", help="Folder caching photo features (default: data folder cache)."
    ),
) -> None:
    """Score a text model on the rows its training split held out (or on all rows)."""
    from modiste.cleaning.text import TextCategorizer
    from modiste.evaluation.report import write_json
    from modiste.training.text import SplitSpec, evaluate_text_csv

    st = state(ctx)
    split = None
    if split_seed is not None or test_size is not None or grouped is not None:
        stored = SplitSpec(**TextCategorizer.load(model).info.get("split", {}))
        split = SplitSpec(
            stored.seed if split_seed is None else split_seed,
            stored.test_size if test_size is None else test_size,
            stored.grouped if grouped is None else grouped,
        )
    png = png or json_out.with_suffix(".png")
    cache = feature_cache or st.settings.cache_dir / "text-photo"
    report = evaluate_text_csv(
        model, data, text_column, label_column, split, png, image_column, st.settings, cache
    )
    write_json(report, json_out)
    if not report["split_is_training_holdout"]:
        st.err.print(
            "[yellow]warning:[/] these rows are not the model's held-out split; "
            "some may have been trained on"
        )
    st.console.print(
        f"accuracy {report['accuracy']:.4f}  macro F1 {report['macro_f1']:.4f}  n {report['n']}"
    )
    for cf in report["top_confusions"][:8]:
        st.console.print(f"  {cf['count']:4d}  {cf['true']} -> {cf['predicted']}", highlight=False)
    photo = report.get("photo_rows")
    if photo and photo.get("n"):
        st.console.print(
            f"rows with a photo: {photo['n']}, accuracy {photo['accuracy']:.4f} "
            f"(title only {photo['title_only_accuracy']:.4f}; the photo fixed "
            f"{photo['moved']['n_fixed']}, broke {photo['moved']['n_broken']})"
        )
    if report.get("photo_errors"):
        errs = {i: e["error"] for i, e in enumerate(report["photo_errors"])}
        _print_photo_errors(st, errs)
    st.console.print(f"wrote {json_out}")


def _print_photo_errors(st: CliState, errors: dict[int, str]) -> None:
    """Unusable photos are reported, never fatal: those rows were categorized by title."""
    if not errors:
        return
    st.err.print(f"[yellow]{len(errors)} photo(s) could not be used (title used instead):[/]")
    for reason in list(errors.values())[:10]:
        st.err.print(f"  {reason}", highlight=False, markup=False)


@labels_app.command("read")
def labels_read(
    ctx: typer.Context,
    image: Path = typer.Argument(..., exists=True, dir_okay=False, help="Care-label photo."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """OCR a care label, read its pictograms, and print fibre composition and care."""
    from modiste.cleaning.care_labels import read_care_label

    st = state(ctx)
    info = read_care_label(image)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), ensure_ascii=False, indent=2))
        return
    comp = ", ".join(
        f"{s.percent:g}% {s.fibre}" + (f" ({s.part})" if s.part else "") for s in info.composition
    )
    st.console.print(f"composition: {comp or '-'}", highlight=False)
    care = [f"{c} ({info.care_sources.get(c, 'text')})" for c in info.care]
    st.console.print(f"care: {'; '.join(care) or '-'}", highlight=False)
    row = ", ".join(f"{h['label']} {h['confidence']:.2f}" for h in info.symbols)
    st.console.print(f"symbols: {row or '-'}", highlight=False)
    st.console.print(f"text: {info.raw_text!r}", highlight=False)


@train_app.command("care-symbols")
def train_care_symbols_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(
        Path("src/modiste/cleaning/data/care_symbols.npz"), "--out", help="Model file to write."
    ),
    labels: int = typer.Option(2500, "--labels", min=10, help="Rendered labels to train on."),
    seed: int = typer.Option(0, "--seed", help="Rendering and training seed."),
    hidden: int = typer.Option(128, "--hidden", min=4, help="Hidden units of the MLP."),
) -> None:
    """Train the care-pictogram reader on rendered ISO 3758 symbols only (no real photo)."""
    from modiste.training.care_symbols import train_care_symbols

    st = state(ctx)
    report = train_care_symbols(out, n_labels=labels, seed=seed, hidden=hidden)
    st.console.print(json.dumps(report, indent=2), highlight=False)
    st.console.print(f"wrote {out}")
