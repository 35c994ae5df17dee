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

``--views`` adds gallery-side detail views (``detail_views``): each catalog photo is also
embedded as a few regions of its foreground box (upper, middle, lower bands...), and a query's
score for a photo is its best over the whole photo and these regions, as if the index held a
vector per region. The view set and colour weight are chosen per split on the training styles
(leave-one-out R@1 among training photos); every fixed set is reported too. Not shipped: the
index keeps one vector per garment (see ``docs/decisions/embeddings.md``).

``--view-pairs`` adds a protocol check (``view_pairs_nested``): the colour weight chosen per
split on the training styles separately for pairs of photos of the same view (front and front,
from the ``shot`` column) and of different views. It wins by learning that a Magento product
has one photo per view (362 of its 374 same-product photo pairs differ in view), which is a
property of this gallery, not of the items: a seller's relisting or another seller's photo of
the same item is often the same view. Measured to show what the protocol rewards; not a recipe.
"""

from __future__ import annotations

import argparse
import csv
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
# Detail views: regions (x1, y1, x2, y2) of the foreground box, as fractions of its sides.
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "upper": (0.2, 0.15, 0.8, 0.55),
    "middle": (0.2, 0.35, 0.8, 0.75),
    "lower": (0.2, 0.55, 0.8, 0.95),
    "centre": (0.3, 0.3, 0.7, 0.7),
    "top_half": (0.15, 0.1, 0.85, 0.6),
    "bottom_half": (0.15, 0.5, 0.85, 1.0),
}
VIEW_OF_SHOT = {"far_front": "near_front", "packshot": "near_front"}
VIEW_SETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "middle": ("middle",),
    "three_bands": ("upper", "middle", "lower"),
    "halves_centre": ("top_half", "bottom_half", "centre"),
}


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


def recall_from_sims(
    sims: np.ndarray, labels: np.ndarray, queries: np.ndarray, gallery: np.ndarray
) -> dict[str, float]:
    """:func:`recall` from a full photo x photo score matrix instead of vectors."""
    from modiste.evaluation.retrieval import same_item_scores_metrics

    m = same_item_scores_metrics(
        sims[np.ix_(gallery, gallery)],
        labels[gallery].tolist(),
        ks=(1, 10),
        query_mask=np.isin(gallery, queries),
    )
    return {k: m[k] for k in ("recall_at_1", "recall_at_10", "n_queries")}


def region_features(base: Any, images: list[Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CNN and colour features of each region of each photo's foreground box."""
    from modiste.models.colour import crop_foreground

    boxes = [crop_foreground(im.convert("RGB"), base.recipe.colour.white) for im in images]
    out = {}
    for name, (x1, y1, x2, y2) in REGIONS.items():
        views = [
            fg.crop(
                (int(x1 * fg.width), int(y1 * fg.height), int(x2 * fg.width), int(y2 * fg.height))
            )
            for fg in boxes
        ]
        # Each region is prepared as a catalog photo is (cut to its own foreground, squared).
        out[name] = (base.cnn_features(views), base.colour_features(views))
    return out


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
    ap.add_argument("--views", action="store_true", help="also score gallery-side detail views")
    ap.add_argument(
        "--view-pairs",
        action="store_true",
        help="also choose colour weights per same-view / other-view pair (a protocol check)",
    )
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

    regions = region_features(base, images) if args.views else {}
    with args.data.open(newline="", encoding="utf-8") as fh:  # the query's shot, where labelled
        shots = np.asarray([r.get("shot") or "" for r in csv.DictReader(fh)])
    assert len(shots) == len(items), "load_items keeps one item per row"
    view_sims: dict[tuple[str, float], np.ndarray] = {}

    def sims_with_views(view_set: str, weight: float) -> np.ndarray:
        """Whole photo as the query; the best of the gallery photo's whole and region vectors."""
        if (view_set, weight) not in view_sims:
            q = vectors(col, weight)
            s = q @ q.T
            for name in VIEW_SETS[view_set]:
                r_cnn, r_col = regions[name]
                s = np.maximum(s, q @ l2n(np.hstack([l2n(r_cnn), weight * l2n(r_col)])).T)
            view_sims[view_set, weight] = s
        return view_sims[view_set, weight]

    # Front, back and close-up as the shot column names them; packshots count as fronts.
    view = np.asarray([VIEW_OF_SHOT.get(s, s) for s in shots])
    same_view = view[:, None] == view[None, :]
    s_cnn, s_col = z @ z.T, l2n(col) @ l2n(col).T

    def sims_by_view_pair(w_same: float, w_other: float) -> np.ndarray:
        """The shipped blend's cosine, with the colour weight of each pair's kind."""
        w2 = np.where(same_view, w_same**2, w_other**2)
        return np.asarray((s_cnn + w2 * s_col) / (1 + w2))

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
        if regions:
            weight = base.recipe.colour_weight
            row["detail_views"] = {
                name: recall_from_sims(sims_with_views(name, weight), labels, te, everything)
                for name in VIEW_SETS
            }
            row["detail_views_by_query_shot"] = {
                name: {
                    shot: recall_from_sims(
                        sims_with_views(name, weight), labels, te[shots[te] == shot], everything
                    )
                    for shot in sorted(set(shots[te]))
                }
                for name in VIEW_SETS
            }
            pick = max(
                ((name, w) for name in VIEW_SETS for w in COLOUR_WEIGHTS),
                key=lambda nw: (
                    recall_from_sims(sims_with_views(*nw), labels, tr, tr)["recall_at_1"],
                    nw == ("none", weight),
                ),
            )
            row["detail_views_nested"] = {
                "choice": list(pick),
                "catalog_gallery": recall_from_sims(sims_with_views(*pick), labels, te, everything),
            }
        if args.view_pairs:
            pair = max(
                ((a, b) for a in COLOUR_WEIGHTS for b in COLOUR_WEIGHTS),
                key=lambda ab: (
                    recall_from_sims(sims_by_view_pair(*ab), labels, tr, tr)["recall_at_1"],
                    ab[0] == ab[1] == best[1],
                ),
            )
            row["view_pairs_nested"] = {
                "choice": list(pair),
                "catalog_gallery": recall_from_sims(
                    sims_by_view_pair(*pair), labels, te, everything
                ),
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
    for variant in ("fixed", "nested", "projection", "view_pairs_nested"):
        for gallery in ("heldout_gallery", "catalog_gallery"):
            for k in ("recall_at_1", "recall_at_10"):
                vals = [r[variant][gallery][k] for r in rows if gallery in r.get(variant, {})]
                if vals:
                    result["summary"][f"{variant}/{gallery}/{k}"] = summary(vals)
    if args.views:
        views = result["summary"]
        for k in ("recall_at_1", "recall_at_10"):
            for name in VIEW_SETS:
                vals = [r["detail_views"][name][k] for r in rows]
                views[f"detail_views/{name}/catalog_gallery/{k}"] = summary(vals)
            vals = [r["detail_views_nested"]["catalog_gallery"][k] for r in rows]
            views[f"detail_views_nested/catalog_gallery/{k}"] = summary(vals)
        for name in VIEW_SETS:  # pooled over splits: the queries of each shot
            by_shot: dict[str, list[float]] = {}
            for r in rows:
                for shot, m in r["detail_views_by_query_shot"][name].items():
                    if m["n_queries"]:
                        by_shot.setdefault(shot, []).append(m["recall_at_1"])
            for shot, vals in sorted(by_shot.items()):
                views[f"detail_views/{name}/by_query_shot/{shot}/recall_at_1"] = summary(vals)
    for key, s in result["summary"].items():
        print(f"{key:45s} mean {s['mean']:.3f} sd {s['sd']:.3f} [{s['min']:.3f}, {s['max']:.3f}]")
    write_result(args.json, json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
