"""The relevance floor of photo search and "Similar items": the cosine under which a hit is poor.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.relevance_floor --json
benchmarks/results/relevance_floor.json``.

Two protocols, each split in halves by photo (street) or by product (Magento), the floor chosen
on the validation half only and scored on the other:

- photo: CCP street crops (embedded as a shopper's photo) against catalog packshots (Myntra
  ``fashion_products`` photos, embedded as the catalog is indexed), the ``modiste eval retrieval``
  street → catalog sets of ``build_sets crossdomain --catalog fashion_products``; a hit is relevant
  when it has the query's category. ``--catalog clothing_dataset`` measures against the consumer
  photos of the first protocol instead.
- similar: Magento catalog photos ("more like this" weights) against the other products' photos;
  relevant = the same category path (Women/Tops/Jackets).

For each query the top ``--k`` hits of the full gallery give relevant and poor scores; the same
query against the gallery *without its category* gives the best score of a catalog that has
nothing like it (what "Products like the hat" showed: capri pants). The floor is the highest
score that still keeps ``--keep`` (98%) of the validation half's relevant hits, rounded down to
0.01: a floor must err towards showing a hit (Youden's J, also reported, cut a third of the
relevant street hits, and 90% dropped true matches in the served index). Reported on the test
half: the share of relevant hits kept, of poor hits dropped, and of queries with no category
match that say "no close match".
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def _embed(emb: Any, items: list[Any], use: str) -> np.ndarray:
    from modiste.evaluation.retrieval import embed_items

    both = embed_items(
        lambda ims: np.hstack([emb.cnn_features(ims), emb.colour_features(ims)]), items
    )
    return np.asarray(
        emb.combine(both[:, : emb.features.dim], both[:, emb.features.dim :], use=use)
    )


def scores(
    q: np.ndarray, ql: np.ndarray, g: np.ndarray, gl: np.ndarray, k: int, same: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Relevant and poor top-``k`` scores per query, and each query's best score without its label.

    ``same`` (queries x gallery, bool) marks gallery items to leave out (the query photo itself).
    """
    sims = q @ g.T
    if same is not None:
        sims = np.where(same, -np.inf, sims)
    rel, poor, absent, qid_rel, qid_poor = [], [], [], [], []
    for i in range(len(q)):
        order = np.argsort(-sims[i])[:k]
        match = gl[order] == ql[i]
        rel += sims[i, order[match]].tolist()
        poor += sims[i, order[~match]].tolist()
        qid_rel += [i] * int(match.sum())
        qid_poor += [i] * int((~match).sum())
        others = sims[i][gl != ql[i]]
        absent.append(float(others.max()) if others.size else -1.0)
    return {
        "relevant": np.asarray(rel), "poor": np.asarray(poor), "absent": np.asarray(absent),
        "qid_relevant": np.asarray(qid_rel, dtype=int), "qid_poor": np.asarray(qid_poor, dtype=int),
    }  # fmt: skip


def choose_floor(relevant: np.ndarray, keep: float) -> float:
    """The highest threshold keeping ``keep`` of the relevant hits, rounded down to 0.01."""
    return float(np.floor(np.quantile(relevant, 1.0 - keep) * 100) / 100)


def youden_floor(relevant: np.ndarray, poor: np.ndarray) -> float:
    """The threshold maximising (relevant kept) - (poor kept): the comparison point."""
    grid = np.round(np.arange(0.0, 1.0, 0.005), 3)
    j = [(relevant >= t).mean() - (poor >= t).mean() for t in grid]
    return float(np.floor(grid[int(np.argmax(j))] * 100) / 100)


def score_floor(s: dict[str, np.ndarray], floor: float) -> dict[str, float]:
    return {
        "relevant_kept": round(float((s["relevant"] >= floor).mean()), 3),
        "poor_dropped": round(float((s["poor"] < floor).mean()), 3),
        "no_match_said": round(float((s["absent"] < floor).mean()), 3),
        "n_relevant": int(s["relevant"].size),
        "n_poor": int(s["poor"].size),
        "n_queries": int(s["absent"].size),
    }


def _half(s: dict[str, np.ndarray], queries: np.ndarray) -> dict[str, np.ndarray]:
    keep = set(np.flatnonzero(queries).tolist())
    return {
        "relevant": s["relevant"][[i in keep for i in s["qid_relevant"]]],
        "poor": s["poor"][[i in keep for i in s["qid_poor"]]],
        "absent": s["absent"][queries],
    }


def evaluate(s: dict[str, np.ndarray], groups: list[str], seed: int, keep: float) -> dict[str, Any]:
    from modiste.evaluation.retrieval import grouped_split

    val, test = grouped_split(groups, 0.5, seed)
    v = _half(s, val)
    floor = choose_floor(v["relevant"], keep)
    youden = youden_floor(v["relevant"], v["poor"])
    pct = {f"p{p}": round(float(np.percentile(s["relevant"], p)), 3) for p in (5, 10, 25, 50)}
    return {
        "floor": floor,
        "validation": score_floor(_half(s, val), floor),
        "test": score_floor(_half(s, test), floor),
        "youden_floor": youden,
        "youden_test": score_floor(_half(s, test), youden),
        "relevant_percentiles": pct,
        "poor_median": round(float(np.median(s["poor"])), 3),
    }


def photo_protocol(
    emb: Any,
    work: Path,
    k: int,
    seed: int,
    limit: int | None,
    keep: float,
    catalog: str = "fashion_products",
) -> dict[str, Any]:
    from modiste.evaluation.build_sets import build_crossdomain
    from modiste.evaluation.retrieval import load_items

    build_crossdomain(DATASETS, work, seed=seed, catalog=catalog)
    q, g = load_items(work / "Q.csv", "label"), load_items(work / "G.csv", "label")
    if limit:
        q, g = q[:: max(1, len(q) // limit)], g[:: max(1, len(g) // (3 * limit))]
    qv, gv = _embed(emb, q, "photo"), _embed(emb, g, "catalog")
    s = scores(qv, np.asarray([i.label for i in q]), gv, np.asarray([i.label for i in g]), k, None)
    return evaluate(s, [str(i.path) for i in q], seed, keep)


def similar_protocol(emb: Any, k: int, seed: int, limit: int | None, keep: float) -> dict[str, Any]:
    from modiste.evaluation.retrieval import Item

    path = DATASETS / "magento_luma" / "gallery.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["category"]]
    if limit:
        rows = rows[: 3 * limit]
    items = [
        Item(path.parent / r["image_path"], r["category"], None, r["product_id"]) for r in rows
    ]
    qv, gv = _embed(emb, items, "similar"), _embed(emb, items, "catalog")
    products = np.asarray([r["product_id"] for r in rows])
    same = products[:, None] == products[None, :]  # never the product itself
    labels = np.asarray([r["category"] for r in rows])
    return evaluate(scores(qv, labels, gv, labels, k, same), products.tolist(), seed, keep)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.relevance_floor")
    ap.add_argument("--k", type=int, default=12, help="hits per query, as the search page asks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=float, default=0.98, help="share of relevant hits to keep")
    ap.add_argument("--limit", type=int, default=None, help="about this many queries (smoke)")
    ap.add_argument("--work", type=Path, default=None, help="where the street sets are written")
    ap.add_argument(
        "--catalog",
        choices=("fashion_products", "clothing_dataset"),
        default="fashion_products",
        help="the photo protocol's catalog side: packshots, or the first protocol's photos",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not DATASETS.exists():
        raise SystemExit(f"needs {DATASETS}")

    from modiste.config import Settings
    from modiste.models.crop_embedder import create_crop_embedder

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        emb = create_crop_embedder(Settings(data_dir=Path(tmp) / "data"))
        result = {
            "embedder": emb.name,
            "k": args.k,
            "keep": args.keep,
            "catalog": args.catalog,
            "photo": photo_protocol(
                emb, work / "crossdomain", args.k, args.seed, args.limit, args.keep, args.catalog
            ),
            "similar": similar_protocol(emb, args.k, args.seed, args.limit, args.keep),
        }
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)


if __name__ == "__main__":
    main()
