"""Care-pictogram reader (issue #12): symbol recall/precision and exact rows, real and rendered.

Real: the four phone photos of care labels in
``../shared/datasets/tags_fabrics/smr_laundry_symbol_reader/images`` (GPL, evaluation only),
scored against our own annotation ``benchmarks/data/care_symbols_real.csv``. Rendered: labels
drawn with another seed than training's. A prediction matches a truth item when their care
names are equal (for an item annotated ``partial``: the same family, e.g. any wash); each
prediction matches once. A row is exact when it has as many items as the truth and each
position matches.

    flock /tmp/modiste-heavy.lock python -m benchmarks.care_symbols \\
        --json benchmarks/results/care_symbols.json \\
        --figure docs/decisions/img/care_symbols_rendered.png \\
        --real-figure /tmp/modiste-cache/care-symbols/real_boxes.png

The real-photo figure stays outside the repository (crops of GPL photos may not be committed).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks.output import write_result
from modiste.cleaning.care_labels import care_family
from modiste.cleaning.care_symbols import (
    CLASS_CARE,
    SymbolHit,
    SymbolModel,
    read_care_symbols,
    shipped_model,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REAL = "tags_fabrics/smr_laundry_symbol_reader/images"
TRUTH = Path(__file__).parent / "data" / "care_symbols_real.csv"


def score_row(pred: list[str], truth: list[tuple[str, bool]]) -> tuple[int, bool]:
    """(matched items, exact row) for predicted care names against (care, fully legible)."""

    def ok(p: str, t: tuple[str, bool]) -> bool:
        return p == t[0] if t[1] else care_family(p) == care_family(t[0])

    used: set[int] = set()
    tp = 0
    for t in truth:
        k = next((i for i, p in enumerate(pred) if i not in used and ok(p, t)), None)
        if k is not None:
            used.add(k)
            tp += 1
    exact = len(pred) == len(truth) and all(ok(p, t) for p, t in zip(pred, truth, strict=True))
    return tp, exact


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tp = sum(r["matched"] for r in rows)
    n_pred = sum(len(r["predicted"]) for r in rows)
    n_true = sum(len(r["truth"]) for r in rows)
    return {
        "photos": len(rows),
        "symbols_true": n_true,
        "symbols_predicted": n_pred,
        "recall": round(tp / max(1, n_true), 3),
        "precision": round(tp / max(1, n_pred), 3),
        "exact_rows": sum(r["exact"] for r in rows),
    }


def real_photos(root: Path, model: SymbolModel) -> tuple[dict[str, Any], dict[str, list]]:
    """Score the annotated real photos; also return each photo's hits for the drawing."""
    lines = [ln for ln in TRUTH.read_text().splitlines() if not ln.startswith("#")]
    truth: dict[str, list[tuple[str, bool]]] = {}
    for r in csv.DictReader(lines):
        truth.setdefault(r["photo"], []).append((r["care"], r["legible"] == "yes"))
    rows, hits_of = [], {}
    for photo, items in truth.items():
        hits = read_care_symbols(root / photo, model)
        hits_of[photo] = hits
        pred = [h.care or "" for h in hits]
        tp, exact = score_row(pred, items)
        rows.append(
            {
                "photo": photo,
                "truth": [t for t, _ in items],
                "predicted": pred,
                "classes": [h.label for h in hits],
                "confidence": [round(h.confidence, 2) for h in hits],
                "matched": tp,
                "exact": exact,
            }
        )
    return {**_summary(rows), "per_photo": rows}, hits_of


def rendered(n: int, seed: int, model: SymbolModel) -> tuple[dict[str, Any], list]:
    """Score ``n`` rendered labels (a seed training never used); keep a few for the figure."""
    from modiste.training.synth.care_symbols import render_row

    rng = np.random.default_rng(seed)
    rows, shown = [], []
    t0 = time.perf_counter()
    for i in range(n):
        row = render_row(rng)
        hits = read_care_symbols(row.image, model)
        pred = [h.care or "" for h in hits]
        items = [(CLASS_CARE[name] or "", True) for name, _ in row.symbols]
        tp, exact = score_row(pred, items)
        rows.append(
            {"truth": [t for t, _ in items], "predicted": pred, "matched": tp, "exact": exact}
        )
        if i < 6:
            shown.append((row, hits))
    out = _summary(rows)
    out["seconds_per_label"] = round((time.perf_counter() - t0) / max(1, n), 3)
    return out, shown


def _draw(image: Image.Image, hits: list[SymbolHit], scale: int) -> Image.Image:
    from PIL import ImageDraw

    im = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for h in hits:
        b = [v * scale for v in h.box]
        d.rectangle(b, outline=(220, 0, 0), width=2)
        d.text((b[0], b[3] + 2), h.label, fill=(220, 0, 0))
    return im


def _around_row(
    image: Image.Image, truth: list[tuple[float, float, float, float]], hits: list[SymbolHit]
) -> tuple[Image.Image, list[SymbolHit]]:
    """The label's symbol row cut out and scaled so a symbol is ~40 px (a small figure)."""
    boxes = np.array(truth + [h.box for h in hits])
    size = float(np.median(boxes[:, 3] - boxes[:, 1]))
    x0, y0 = boxes[:, :2].min(axis=0) - 1.2 * size
    x1, y1 = boxes[:, 2:].max(axis=0) + 1.2 * size
    f = 40 / size
    cut = image.crop((int(x0), int(y0), int(x1), int(y1)))
    cut = cut.resize((max(1, int(cut.width * f)), max(1, int(cut.height * f))), resample=3)
    moved = [
        SymbolHit(
            h.label,
            h.care,
            (
                (h.box[0] - int(x0)) * f,
                (h.box[1] - int(y0)) * f,
                (h.box[2] - int(x0)) * f,
                (h.box[3] - int(y0)) * f,
            ),
            h.confidence,
        )
        for h in hits
    ]
    return cut, moved


def draw_sheet(items: list[tuple[Any, list[SymbolHit]]], path: Path, scale: int) -> None:
    """Stack drawings of (image, hits) vertically; stored palette-quantised (small PNG)."""
    tiles = [_draw(im, hits, scale) for im, hits in items]
    sheet = Image.new("RGB", (max(t.width for t in tiles), sum(t.height for t in tiles)), "white")
    y = 0
    for t in tiles:
        sheet.paste(t, (0, y))
        y += t.height
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(48).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--model", type=Path, default=None, help="model file (default: shipped)")
    ap.add_argument("--rendered", type=int, default=300, help="rendered labels to score")
    ap.add_argument("--seed", type=int, default=20_000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--figure", type=Path, default=None, help="rendered examples, boxes drawn")
    ap.add_argument("--real-figure", type=Path, default=None, help="real photos (keep outside)")
    args = ap.parse_args(argv)

    model = SymbolModel.load(args.model) if args.model else shipped_model()
    report: dict[str, Any] = {
        "model": {k: v for k, v in model.meta.items() if k != "rendered_test"},
        "truth": str(TRUTH.relative_to(Path(__file__).parents[1])),
    }
    rend, shown = rendered(args.rendered, args.seed, model)
    report["rendered"] = rend
    if args.figure:
        draw_sheet(
            [_around_row(r.image, [b for _, b in r.symbols], h) for r, h in shown], args.figure, 1
        )
    root = args.datasets / REAL
    if root.is_dir():
        real, hits_of = real_photos(root, model)
        report["real"] = real
        if args.real_figure:
            from modiste.imaging import decode_image

            pics = [(decode_image(root / p).image, h) for p, h in hits_of.items()]
            draw_sheet(pics, args.real_figure, 3)
    else:
        report["real"] = f"skipped: {root} not found"
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    write_result(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
