"""Category heads of the crop embedder and the query-side weights of street-photo crops.

Part of ``modiste train embedder --crossdomain DIR``: one head on clothing-dataset photos (the
catalog domain), one on CCP street crops (the photo domain), both from the training halves only.
The street-photo query weights (category and colour) are chosen on a validation split of those
halves (CCP photos and clothing-dataset contributors split in two), never on Q/G.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from modiste.evaluation.retrieval import crossdomain_metrics, grouped_split
from modiste.models.category_head import INPUT_SCALE, CategoryHead
from modiste.models.crop_embedder import CropEmbedder

HEAD_HIDDEN = (0, 64, 128)  # hidden units of the heads tried (0: linear); the file stays < 2 MB
PHOTO_CATEGORY_WEIGHTS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
PHOTO_COLOUR_WEIGHTS = (0.0, 0.5, 1.0, 1.5)
TOLERANCE = 0.01  # P@10 within this of the best counts as a tie (validation noise is larger)


@dataclass
class DomainData:
    """Raw backbone features, colour histograms, coarse labels and split groups of one domain."""

    cnn: np.ndarray
    colour: np.ndarray
    labels: list[str]
    groups: list[str]

    def concat(self, other: DomainData) -> DomainData:
        return DomainData(
            np.vstack([self.cnn, other.cnn]),
            np.vstack([self.colour, other.colour]),
            self.labels + other.labels,
            self.groups + other.groups,
        )

    def subset(self, mask: np.ndarray) -> DomainData:
        idx = np.flatnonzero(mask)
        return DomainData(
            self.cnn[idx],
            self.colour[idx],
            [self.labels[i] for i in idx],
            [self.groups[i] for i in idx],
        )


def fit_category_head(
    features: np.ndarray,
    labels: Sequence[str],
    classes: tuple[str, ...],
    hidden: int = 64,
    steps: int = 1500,
    seed: int = 0,
) -> CategoryHead:
    """Class-balanced cross-entropy with dropout, Adam, batches of 256 (torch, CPU, seconds)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    y_np = np.asarray([classes.index(lab) for lab in labels], dtype=np.int64)
    x_np = np.asarray(features, dtype=np.float32)
    x_np = INPUT_SCALE * x_np / np.maximum(np.linalg.norm(x_np, axis=1, keepdims=True), 1e-12)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    k = len(classes)
    layers: list[torch.nn.Module] = [torch.nn.Dropout(0.5)]
    if hidden:
        layers += [torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.5)]
    layers.append(torch.nn.Linear(hidden or x.shape[1], k))
    net = torch.nn.Sequential(*layers)
    counts = np.bincount(y_np, minlength=k).astype(np.float32)
    weight = torch.from_numpy(counts.sum() / (k * np.maximum(counts, 1.0)))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-3)
    for _ in range(steps):
        idx = torch.from_numpy(rng.choice(len(x), size=min(256, len(x)), replace=False))
        loss = loss_fn(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]

    def arr(t: torch.Tensor) -> np.ndarray:
        return np.asarray(t.detach().numpy(), dtype=np.float32)

    if hidden:
        return CategoryHead(
            classes, arr(lin[0].weight.T), arr(lin[0].bias), arr(lin[1].weight.T), arr(lin[1].bias)
        )
    return CategoryHead(classes, arr(lin[0].weight.T), arr(lin[0].bias))


def fit_heads(
    catalog: DomainData, photo: DomainData, hidden: int, seed: int, steps: int = 1500
) -> dict[str, CategoryHead]:
    """One head per domain (a joint head was worse on each domain on validation)."""
    classes = tuple(sorted(set(catalog.labels) | set(photo.labels)))
    return {
        "catalog": fit_category_head(catalog.cnn, catalog.labels, classes, hidden, steps, seed),
        "photo": fit_category_head(photo.cnn, photo.labels, classes, hidden, steps, seed),
    }


def split_domains(
    catalog: DomainData, photo: DomainData, seed: int
) -> tuple[tuple[DomainData, DomainData], tuple[DomainData, DomainData]]:
    """((catalog, photo) to fit, (catalog, photo) to validate): halves by contributor / photo."""
    c_fit, c_val = grouped_split(catalog.groups, 0.5, seed + 3)
    p_fit, p_val = grouped_split(photo.groups, 0.5, seed + 2)
    return (catalog.subset(c_fit), photo.subset(p_fit)), (
        catalog.subset(c_val),
        photo.subset(p_val),
    )


def choose_photo_weights(
    fit: tuple[DomainData, DomainData],
    val: tuple[DomainData, DomainData],
    embedder: Callable[[dict[str, CategoryHead]], CropEmbedder],
    seed: int,
    steps: int = 1500,
) -> tuple[int, float, float, dict[str, float]]:
    """Head size and (category, colour) query weights of street crops, by P@10 on validation.

    Heads are fitted on the ``fit`` halves; the validation street crops query the validation
    catalog photos through ``embedder(heads)`` (its projection must not have seen ``val``
    either). Among settings within :data:`TOLERANCE` of the best P@10, the one keeping the most
    colour wins (a shopper's "this red top" wants colour; this metric counts category only),
    then the smaller head, then the smaller category weight.

    Returns:
        (hidden units, category weight, colour weight, P@10 of every setting tried).
    """
    g, q = val
    scores: dict[tuple[int, float, float], float] = {}
    for hidden in HEAD_HIDDEN:
        emb = embedder(fit_heads(fit[0], fit[1], hidden, seed, steps))
        gallery = emb.combine(g.cnn, g.colour)
        for sw in PHOTO_CATEGORY_WEIGHTS:
            for cw in PHOTO_COLOUR_WEIGHTS:
                m = emb.with_recipe(photo_category_weight=sw, photo_colour_weight=cw)
                qv = m.combine(q.cnn, q.colour, use="photo")
                scores[(hidden, sw, cw)] = crossdomain_metrics(qv, q.labels, gallery, g.labels)[
                    "precision_at_10"
                ]
    best = max(scores.values())
    hidden, sw, cw = max(
        (k for k, v in scores.items() if v >= best - TOLERANCE),
        key=lambda k: (k[2], -k[0], -k[1]),
    )
    table = {f"hidden {k[0]} category {k[1]} colour {k[2]}": v for k, v in scores.items()}
    return hidden, sw, cw, table
