"""``modiste train embedder``: a linear projection of backbone features, by metric learning.

Two signals, each with its own multi-similarity loss (pytorch-metric-learning) so their labels
never meet in one batch: same product (Magento photos of one style + colour; other colours of the
style are the hard negatives) and same coarse category (clothing-dataset photos of one half of
the contributors and CCP street crops of one half of the photos, from ``build_sets
crossdomain``). The Magento styles are split in two by ``style_id``: only one half is trained on,
the other is the held-out evaluation, and the trained style ids are stored in the file so that
``modiste eval retrieval --heldout`` can score products never trained on. The colour weight is
chosen on the trained half only. With ``--crossdomain``, category heads (catalog and street-photo
domains) are trained too, and the query-side weights of street-photo crops are chosen on a
validation split of the category training halves (:mod:`modiste.training.category`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modiste.errors import ConfigError
from modiste.evaluation.retrieval import (
    Item,
    crossdomain_metrics,
    embed_items,
    grouped_split,
    load_items,
    same_item_metrics,
)
from modiste.models.category_head import CategoryHead
from modiste.models.crop_embedder import CropEmbedder, CropRecipe, Projection, l2n
from modiste.training.category import DomainData, choose_photo_weights, fit_heads, split_domains

log = logging.getLogger(__name__)
COLOUR_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
StreetView = tuple[float, bool]  # (box margin, mirrored) of a street crop
# Extra views of each training street crop with --street-views: mirrored, tight (the box as
# annotated) and re-padded wider; the search service crops with a 0.1 margin, unmirrored.
STREET_VIEWS: tuple[StreetView, ...] = ((0.1, True), (0.0, False), (0.25, False))


@dataclass
class EmbedderTrainConfig:
    """Data and knobs of one training run (all recorded in the output file's metadata)."""

    magento: Path | None
    crossdomain: Path | None
    test_share: float = 0.5
    seed: int = 0
    out_dim: int = 256
    steps: int = 600
    lr: float = 2e-3
    max_clothing: int = 2000
    category_loss_weight: float = 1.0
    domain_positives: bool = False
    street_views: bool = False
    keep_projection: Path | None = None  # a trained file: keep its projection, refit the heads


class FeatureCache:
    """Raw backbone features per (embedder, item list), kept as .npy under ``root``."""

    def __init__(self, root: Path | None, embedder: CropEmbedder) -> None:
        self.root, self.embedder = root, embedder

    def features(
        self,
        items: Sequence[Item],
        tag: str,
        advance: Callable[[int], None] | None = None,
        view: StreetView = (0.1, False),
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cnn, colour) for ``items`` seen as ``view``; computed once per identical list."""
        h = hashlib.sha256(self.embedder.name.encode())
        if view != (0.1, False):  # the default view keeps the names of older caches
            h.update(f"view={view}\n".encode())
        for it in items:
            h.update(f"{it.path}|{it.box}\n".encode())
        files = None
        if self.root is not None:
            base = self.root / f"{tag}-{h.hexdigest()[:16]}"
            files = (base.with_suffix(".cnn.npy"), base.with_suffix(".col.npy"))
            if all(f.is_file() for f in files):
                return np.load(files[0]), np.load(files[1])
        emb = self.embedder
        both = embed_items(
            lambda ims: np.hstack([emb.cnn_features(ims), emb.colour_features(ims)]),
            items,
            advance=advance,
            margin=view[0],
            mirror=view[1],
        )
        cnn, col = both[:, : emb.features.dim], both[:, emb.features.dim :]
        if files is not None:
            files[0].parent.mkdir(parents=True, exist_ok=True)
            np.save(files[0], cnn)
            np.save(files[1], col)
        return cnn, col


def _catalog_train_csv(folder: Path) -> Path:
    """The catalog-domain training half: ``train_catalog.csv``, or an older set's name."""
    path = folder / "train_catalog.csv"
    return path if path.is_file() else folder / "train_clothing.csv"


def _label_ids(labels: Sequence[str]) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(sorted(set(labels)))}
    return np.asarray([index[lab] for lab in labels], dtype=np.int64)


def _domain_batch(
    labels: np.ndarray, domains: np.ndarray, per_class: int, rng: np.random.Generator
) -> np.ndarray:
    """Each class's samples half from each domain: every positive set pairs a street crop with
    a catalog photo of its category, which a pooled draw leaves to chance."""
    out: list[int] = []
    for c in np.unique(labels):
        for d in np.unique(domains):
            idx = np.flatnonzero((labels == c) & (domains == d))
            n = min(per_class // 2, len(idx))
            out.extend(rng.choice(idx, size=n, replace=False))
    return np.asarray(out)


def _batch(
    labels: np.ndarray, n_classes: int, per_class: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``per_class`` samples from each of ``n_classes`` classes with ≥ 2 samples."""
    uniq, counts = np.unique(labels, return_counts=True)
    classes = rng.choice(
        uniq[counts >= 2], size=min(n_classes, int((counts >= 2).sum())), replace=False
    )
    out: list[int] = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        out.extend(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.asarray(out)


def fit_projection(
    product_x: np.ndarray,
    product_y: np.ndarray,
    category_x: np.ndarray | None,
    category_y: np.ndarray | None,
    cfg: EmbedderTrainConfig,
    category_domain: np.ndarray | None = None,
) -> np.ndarray:
    """Learn W (in_dim, out_dim) on L2-normalised features; PCA-initialised, MS loss.

    ``category_domain`` (0 catalog, 1 street) enables ``cfg.domain_positives`` batches.
    """
    import torch
    from pytorch_metric_learning.losses import MultiSimilarityLoss

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    px = torch.from_numpy(l2n(product_x))
    pool = [product_x] + ([category_x] if category_x is not None else [])
    allx = l2n(np.vstack(pool))
    centred = allx - allx.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    w = torch.nn.Parameter(torch.from_numpy(vt[: cfg.out_dim].T.copy()).float())
    loss_fn = MultiSimilarityLoss(alpha=2.0, beta=50.0, base=0.5)
    opt = torch.optim.Adam([w], lr=cfg.lr, weight_decay=1e-4)
    cx = torch.from_numpy(l2n(category_x)) if category_x is not None else None
    for _step in range(cfg.steps):
        idx = _batch(product_y, 32, 4, rng)
        z = torch.nn.functional.normalize(px[idx] @ w, dim=1)
        loss = loss_fn(z, torch.from_numpy(product_y[idx]))
        if cx is not None and category_y is not None:
            if cfg.domain_positives and category_domain is not None:
                cidx = _domain_batch(category_y, category_domain, 24, rng)
            else:
                cidx = _batch(category_y, 5, 24, rng)
            zc = torch.nn.functional.normalize(cx[cidx] @ w, dim=1)
            loss = loss + cfg.category_loss_weight * loss_fn(zc, torch.from_numpy(category_y[cidx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach().numpy().astype(np.float32)


def train_embedder(
    base: CropEmbedder,
    cfg: EmbedderTrainConfig,
    cache_dir: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> tuple[Projection, dict[str, Any]]:
    """Train a projection for ``base``'s backbone; returns it and a report (held-out metrics)."""
    if cfg.magento is None:
        raise ConfigError("training the embedder needs a same-item CSV (--magento)")
    cache = FeatureCache(cache_dir, base)
    items = load_items(cfg.magento)
    if not all(it.group for it in items):
        raise ConfigError(f"{cfg.magento}: every row needs a style_id (grouped split)")
    train, test = grouped_split([it.group for it in items], cfg.test_share, cfg.seed)
    cnn, col = cache.features(items, "magento", advance)
    labels = [it.label for it in items]
    cat_x = cat_y = cat_dom = None
    domains: tuple[DomainData, DomainData] | None = None
    views: DomainData | None = None
    report: dict[str, Any] = {}
    if cfg.crossdomain is not None:
        cl = load_items(_catalog_train_csv(cfg.crossdomain), "label")
        rng = np.random.default_rng(cfg.seed)
        cl = [cl[i] for i in sorted(rng.permutation(len(cl))[: cfg.max_clothing])]
        cc = load_items(cfg.crossdomain / "train_ccp.csv", "label")
        x1, k1 = cache.features(cl, "train_clothing", advance)
        x2, k2 = cache.features(cc, "train_ccp", advance)
        domains = (  # split groups: contributor or photo bytes (catalog), street photo (CCP)
            DomainData(x1, k1, [it.label for it in cl], [it.group for it in cl]),
            DomainData(x2, k2, [it.label for it in cc], [str(it.path) for it in cc]),
        )
        if cfg.street_views:
            parts = [cache.features(cc, "train_ccp", advance, v) for v in STREET_VIEWS]
            n = len(STREET_VIEWS)
            views = DomainData(
                np.vstack([p[0] for p in parts]),
                np.vstack([p[1] for p in parts]),
                domains[1].labels * n,
                domains[1].groups * n,
            )
        photo = domains[1] if views is None else domains[1].concat(views)
        cat_x = np.vstack([x1, photo.cnn])
        cat_y = _label_ids(domains[0].labels + photo.labels)
        cat_dom = np.r_[np.zeros(len(x1)), np.ones(len(photo.labels))]
    tr = np.flatnonzero(train)
    # The colour weight is chosen on styles the projection did not see either: an inner grouped
    # split of the training styles (a projection fits its own training products too well, which
    # would make colour look less useful than it is on new products).
    trained = sorted({items[i].group for i in tr})
    if cfg.keep_projection is None:
        inner_fit, inner_val = grouped_split([items[i].group for i in tr], 0.5, cfg.seed + 1)
        fit_i, val_i = tr[inner_fit], tr[inner_val]
        w_inner = fit_projection(
            cnn[fit_i], _label_ids([labels[i] for i in fit_i]), cat_x, cat_y, cfg, cat_dom
        )
        inner = CropEmbedder(base.features, base.recipe, Projection(w_inner, base.recipe))
        val_labels = [labels[i] for i in val_i]
        scores = {
            cw: same_item_metrics(inner.combine(cnn[val_i], col[val_i], cw), val_labels)[
                "recall_at_1"
            ]
            for cw in COLOUR_WEIGHTS
        }
        w = fit_projection(cnn[tr], _label_ids([labels[i] for i in tr]), cat_x, cat_y, cfg, cat_dom)
        best_cw = max(COLOUR_WEIGHTS, key=lambda c: (scores[c], -abs(c - 1.0)))
    else:  # same-item ranking stays exactly that file's: only the category part is refitted
        kept = Projection.load(cfg.keep_projection)
        if kept.meta.get("trained_groups", trained) != trained:
            raise ConfigError(f"{cfg.keep_projection} was trained on other Magento styles")
        w, best_cw = kept.weight, kept.recipe.colour_weight
        scores = kept.meta.get("colour_weight_inner_val_r1", {})
    from dataclasses import replace

    recipe = replace(base.recipe, colour_weight=best_cw)
    heads: dict[str, CategoryHead] = {}
    meta: dict[str, Any] = {}
    if domains is not None:
        recipe, heads, meta["category_heads"] = _category_part(
            base,
            recipe,
            cfg,
            domains,
            cnn[tr],
            _label_ids([labels[i] for i in tr]),
            views,
            w if cfg.keep_projection else None,
        )
    h = hashlib.sha256(w.astype(np.float16).tobytes())
    for d in sorted(heads):
        for arr in heads[d].to_arrays("").values():
            h.update(arr.tobytes())
    meta.update(
        trained_groups=trained,
        sha=h.hexdigest()[:16],
        config={k: str(v) for k, v in vars(cfg).items()},
        colour_weight_inner_val_r1={str(k): v for k, v in scores.items()},
    )
    proj = Projection(w, recipe, meta, heads)
    model = CropEmbedder(base.features, recipe, proj)
    te = np.flatnonzero(test)
    te_labels = [labels[i] for i in te]
    report["heldout_styles"] = {
        # as the search service and `eval retrieval` run it: "more like this" queries leave the
        # category block out; the second row keeps it on both sides (for comparison only)
        "trained": same_item_metrics(
            model.combine(cnn[te], col[te]),
            te_labels,
            queries=model.combine(cnn[te], col[te], use="similar"),
        ),
        "untrained": same_item_metrics(base.combine(cnn[te], col[te]), te_labels),
        "n_styles": len({items[i].group for i in te}),
    }
    if heads:
        report["heldout_styles"]["trained_category_both_sides"] = same_item_metrics(
            model.combine(cnn[te], col[te]), te_labels
        )
    report["colour_weight"] = best_cw
    if "category_heads" in meta:
        report["category_heads"] = meta["category_heads"]
    if cfg.crossdomain is not None and (cfg.crossdomain / "Q.csv").is_file():
        q = load_items(cfg.crossdomain / "Q.csv", "label")
        g = load_items(cfg.crossdomain / "G.csv", "label")
        qc, qk = cache.features(q, "Q", advance)
        gc, gk = cache.features(g, "G", advance)
        ql, gl = [it.label for it in q], [it.label for it in g]
        plain = CropEmbedder(base.features, recipe, Projection(w, recipe, meta))
        report["crossdomain"] = {
            name: crossdomain_metrics(
                m.combine(qc, qk, w_, use="photo"), ql, m.combine(gc, gk, w_), gl
            )["precision_at_10"]
            for name, m, w_ in (
                ("trained", model, None),
                ("trained_no_colour", model, 0.0),
                ("projection_only", plain, None),
                ("projection_only_no_colour", plain, 0.0),
                ("untrained", base, None),
                ("untrained_no_colour", base, 0.0),
            )
        }
    return proj, report


def _category_part(
    base: CropEmbedder,
    recipe: CropRecipe,
    cfg: EmbedderTrainConfig,
    domains: tuple[DomainData, DomainData],
    product_x: np.ndarray,
    product_y: np.ndarray,
    views: DomainData | None = None,
    fixed_w: np.ndarray | None = None,
) -> tuple[CropRecipe, dict[str, CategoryHead], dict[str, Any]]:
    """Category heads on the full training halves; street-photo query weights on validation.

    The validation projection and heads see only the fit halves of the category data (the
    Magento training styles as well), so the weights are chosen on photos and contributors that
    neither saw. Extra ``views`` of street crops join the fit half of their photo's side only:
    validation queries are crops as the search service cuts them. With ``fixed_w`` (a kept
    projection) only the heads and weights are chosen; that projection may have seen
    validation photos, which makes validation optimistic for it.
    """
    from dataclasses import replace

    fit, val = split_domains(*domains, cfg.seed)
    if views is not None:  # extra views of a fit photo's crops; validation stays as served
        fit = (fit[0], fit[1].concat(views.subset(np.isin(views.groups, fit[1].groups))))
        domains = (domains[0], domains[1].concat(views))
    fx = np.vstack([fit[0].cnn, fit[1].cnn])
    fy = _label_ids(fit[0].labels + fit[1].labels)
    fd = np.r_[np.zeros(len(fit[0].labels)), np.ones(len(fit[1].labels))]
    w_val = fit_projection(product_x, product_y, fx, fy, cfg, fd) if fixed_w is None else fixed_w

    def embedder(heads: dict[str, CategoryHead]) -> CropEmbedder:
        return CropEmbedder(base.features, recipe, Projection(w_val, recipe, heads=heads))

    hidden, sw, cw, scores = choose_photo_weights(fit, val, embedder, cfg.seed)
    heads = fit_heads(*domains, hidden, cfg.seed)
    chosen = {"hidden": hidden, "photo_category_weight": sw, "photo_colour_weight": cw}
    recipe = replace(recipe, photo_category_weight=sw, photo_colour_weight=cw)
    return recipe, heads, {**chosen, "validation_p10": scores}
