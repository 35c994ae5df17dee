"""Same-item retrieval on unseen styles, as a user's catalog meets it (issue #13's protocol check).

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.same_item_cv --json OUT [--splits 20]``.

The shipped held-out figure (0.842 R@1) is one 50/50 split of Magento's 80 styles (seed 0), scored
with a gallery of the held-out photos only, by a recipe (colour bins, colour weight) picked while
looking at all 342 photos. An independent check on unseen styles found 0.749. This script repeats
the whole recipe on many style splits and, per split, scores the held-out styles' photos as queries

* against the held-out photos only (``heldout_gallery``: the old protocol), and
* against every photo (``catalog_gallery``: the trained products stay in as distractors, as they
  do in a shop's index),

for the fixed shipped recipe, for the colour recipe and weight chosen on the training styles
only (``nested``: leave-one-out R@1 among training photos), and for a projection trained on the
training styles (colour weight chosen on an inner split of them, as ``train embedder`` does).
The spread over splits says how far one split's figure can be from another's.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
# Colour recipes of the ablation (docs/decisions/embeddings.md) the nested search may choose from.
COLOUR_RECIPES: dict[str, dict[str, Any]] = {
    "12x4x4": {"h_bins": 12, "s_bins": 4, "v_bins": 4},
    "24x4x4": {"h_bins": 24, "s_bins": 4, "v_bins": 4},
    "24x4x6": {"h_bins": 24, "s_bins": 4, "v_bins": 6},
    "36x5x5": {"h_bins": 36, "s_bins": 5, "v_bins": 5},
}
COLOUR_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)


def recall(
    vecs: np.ndarray, labels: np.ndarray, queries: np.ndarray, gallery: np.ndarray
) -> dict[str, float]:
    """R@1/R@10 of photos ``queries`` (a subset of ``gallery``) against photos ``gallery``."""
    from modiste.evaluation.retrieval import same_item_metrics

    m = same_item_metrics(
        vecs[gallery], labels[gallery].tolist(), ks=(1, 10), query_mask=np.isin(gallery, queries)
    )
    return {k: m[k] for k in ("recall_at_1", "recall_at_10", "n_queries")}


def summary(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {
        "mean": round(float(a.mean()), 4),
        "sd": round(float(a.std()), 4),
        "min": round(float(a.min()), 4),
        "max": round(float(a.max()), 4),
    }


def main(argv: list[str] | None = None) -> None:
    from modiste.config import Settings
    from modiste.evaluation.retrieval import grouped_split, load_item_images, load_items
    from modiste.models.colour import colour_histograms
    from modiste.models.crop_embedder import CropEmbedder, Projection, create_crop_embedder, l2n
    from modiste.training.embedder import (
        EmbedderTrainConfig,
        FeatureCache,
        _label_ids,
        fit_projection,
    )

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATASETS / "magento_luma" / "gallery.csv")
    ap.add_argument("--splits", type=int, default=20, help="style splits (seeds 0..N-1)")
    ap.add_argument("--trained-splits", type=int, default=10, help="splits that train a projection")
    ap.add_argument("--steps", type=int, default=600, help="projection training steps")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/modiste-cache/same-item-cv"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    base = create_crop_embedder(Settings(), projection=None, runtime="onnx")
    items = load_items(args.data)
    groups = [it.group for it in items]
    labels = np.asarray([it.label for it in items])
    cnn, col = FeatureCache(args.cache, base).features(items, "magento")
    images = load_item_images(items)  # the colour block reads the whole photo, as embed() does
    colours = {
        name: colour_histograms(images, replace(base.recipe.colour, **kw))
        for name, kw in COLOUR_RECIPES.items()
    }
    z = l2n(cnn)
    everything = np.arange(len(items))

    def vectors(colour: np.ndarray, weight: float, proj: np.ndarray | None = None) -> np.ndarray:
        c = l2n(z @ proj) if proj is not None else z
        return l2n(np.hstack([c, weight * l2n(colour)]))

    rows: list[dict[str, Any]] = []
    for seed in range(args.splits):
        train, test = grouped_split(groups, 0.5, seed)
        tr, te = np.flatnonzero(train), np.flatnonzero(test)
        row: dict[str, Any] = {"seed": seed, "n_heldout_styles": len({groups[i] for i in te})}
        shipped = vectors(col, base.recipe.colour_weight)
        row["fixed"] = {
            "heldout_gallery": recall(shipped, labels, te, te),
            "catalog_gallery": recall(shipped, labels, te, everything),
        }
        # Nested: colour recipe and weight by leave-one-out R@1 among the training photos only.
        best = max(
            ((name, w) for name in COLOUR_RECIPES for w in COLOUR_WEIGHTS),
            key=lambda nw: (
                recall(vectors(colours[nw[0]], nw[1]), labels, tr, tr)["recall_at_1"],
                nw == ("36x5x5", base.recipe.colour_weight),
            ),
        )
        nested = vectors(colours[best[0]], best[1])
        row["nested"] = {
            "choice": list(best),
            "heldout_gallery": recall(nested, labels, te, te),
            "catalog_gallery": recall(nested, labels, te, everything),
        }
        if seed < args.trained_splits:
            cfg = EmbedderTrainConfig(None, None, seed=seed, steps=args.steps)
            fit, val = grouped_split([groups[i] for i in tr], 0.5, seed + 1)
            w_in = fit_projection(cnn[tr[fit]], _label_ids(list(labels[tr[fit]])), None, None, cfg)
            inner = CropEmbedder(base.features, base.recipe, Projection(w_in, base.recipe))
            cw = max(
                COLOUR_WEIGHTS,
                key=lambda c: (
                    recall(inner.combine(cnn, col, c), labels, tr[val], tr[val])["recall_at_1"],
                    -abs(c - 1.0),
                ),
            )
            w = fit_projection(cnn[tr], _label_ids(list(labels[tr])), None, None, cfg)
            trained = vectors(col, cw, w)
            row["projection"] = {
                "colour_weight": cw,
                "heldout_gallery": recall(trained, labels, te, te),
                "catalog_gallery": recall(trained, labels, te, everything),
            }
        rows.append(row)
        print(json.dumps(row), flush=True)

    result: dict[str, Any] = {"data": str(args.data), "splits": rows, "summary": {}}
    for variant in ("fixed", "nested", "projection"):
        for gallery in ("heldout_gallery", "catalog_gallery"):
            for k in ("recall_at_1", "recall_at_10"):
                vals = [r[variant][gallery][k] for r in rows if variant in r]
                if vals:
                    result["summary"][f"{variant}/{gallery}/{k}"] = summary(vals)
    for key, s in result["summary"].items():
        print(f"{key:45s} mean {s['mean']:.3f} sd {s['sd']:.3f} [{s['min']:.3f}, {s['max']:.3f}]")
    write_result(args.json, json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
