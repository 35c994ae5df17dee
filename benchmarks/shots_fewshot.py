"""Few-shot check: how many real photos `shots learn` needs for a class, and what it forgets.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_fewshot --json OUT``.
Uses tags_fabrics (evaluation-only data; nothing is saved). For each seed, the class's photos
are shuffled and split once into a teaching pool (``--pool``) and a fixed test part; then for
each k in ``--ks`` the shipped head (a fresh copy) learns the first k pool photos with
``ShotClassifier.learn`` and is scored on the test part, so every k meets the same photos.
k = 0 is the shipped head as it is. Magento photos (training photos of the shipped head, so
this measures forgetting, not generalisation) are re-scored after the largest k.
With ``--as-new`` the taught classes are first cut out of the shipped head (their weight rows and
memory rows), so each is learnt as a class the head lacks (k = 0 then scores 0).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ks", default="0,1,2,3,5,8,13", help="photos taught per class")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--pool", type=int, default=13, help="material photos kept for teaching")
    ap.add_argument("--classes", default="material", help="tags_fabrics classes to teach")
    ap.add_argument(
        "--magento", type=int, default=80, help="Magento photos checked for forgetting."
    )
    ap.add_argument(
        "--as-new", action="store_true", help="cut the classes out of the head first (new class)"
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/modiste-cache/fewshot-data"),
        help="data folder (ONNX cache)",
    )
    ap.add_argument("--test-limit", type=int, default=None, help="test photos per class (all)")
    args = ap.parse_args()
    import copy

    import numpy as np
    import torch

    torch.set_num_threads(2)
    from modiste.config import Settings
    from modiste.evaluation.metrics import accuracy
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.imaging import decode_image
    from modiste.training.shot_data import gallery_samples

    ks = sorted({int(k) for k in args.ks.split(",")})
    classes = args.classes.split(",")
    tags = gallery_samples(DATASETS / "tags_fabrics" / "gallery.csv")
    clf = create_shot_classifier(Settings(data_dir=args.work))
    shipped = _without(clf.head, classes) if args.as_new else copy.deepcopy(clf.head)
    images = {s.path: decode_image(s.path, draft_size=512).image for s in tags}
    recall: dict[str, dict[int, list[float]]] = {c: {k: [] for k in ks} for c in classes}
    for seed in range(args.seeds):
        rng = random.Random(seed)
        for cls in classes:
            photos = [s.path for s in tags if s.label == cls]
            rng.shuffle(photos)
            pool = photos[: min(args.pool, len(photos) - 1)]
            test = photos[len(pool) :][: args.test_limit]
            for k in ks:
                clf.head, clf.source = copy.deepcopy(shipped), "model"
                if k:
                    clf.learn({cls: [images[p] for p in pool[:k]]})
                pred = [p.label for p in clf.predict([images[p] for p in test])]
                recall[cls][k].append(float(np.mean([v == cls for v in pred])))
    mag = gallery_samples(DATASETS / "magento_luma" / "gallery.csv")
    mag = random.Random(0).sample(mag, min(args.magento, len(mag)))
    clf.head, clf.source = copy.deepcopy(shipped), "model"
    before = [p.label for p in clf.predict_paths([s.path for s in mag])]
    clf.learn(
        {
            cls: [images[p] for p in [s.path for s in tags if s.label == cls][: ks[-1]]]
            for cls in classes
            if ks[-1]
        }
    )
    after = [p.label for p in clf.predict_paths([s.path for s in mag])]
    res = {
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
        "as_new_class": args.as_new,
        "seeds": args.seeds,
        "pool": args.pool,
        "recall_mean": {
            c: {k: round(float(np.mean(v)), 3) for k, v in r.items()} for c, r in recall.items()
        },
        "recall_per_seed": {
            c: {k: [round(x, 3) for x in v] for k, v in r.items()} for c, r in recall.items()
        },
        "k_for_0.9": {
            c: next((k for k in ks if np.mean(r[k]) >= 0.9), None) for c, r in recall.items()
        },
        "magento_accuracy_before": accuracy([s.label for s in mag], before),
        "magento_accuracy_after_largest_k": accuracy([s.label for s in mag], after),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        write_result(args.json, json.dumps(res, indent=2))


def _without(head: Any, classes: list[str]) -> Any:
    """``head`` (gated) with ``classes`` removed from its experts, as if it never learnt them."""
    import numpy as np

    from modiste.models.heads import GatedHead, LinearHead

    def cut(e: LinearHead) -> LinearHead:
        keep = [i for i, lab in enumerate(e.labels) if lab not in classes]
        assert e.memory_x is not None and e.memory_y is not None, "the head has no memory"
        m = np.isin(e.memory_y, classes, invert=True)
        return LinearHead(
            [e.labels[i] for i in keep],
            e.mean,
            e.scale,
            e.coef[keep],
            e.intercept[keep],
            e.temperature,
            dict(e.meta),
            e.memory_x[m],
            e.memory_y[m],
        )

    assert isinstance(head, GatedHead), "--as-new needs a gated head"
    return GatedHead(head.gate, cut(head.gallery), cut(head.detail), dict(head.meta))


if __name__ == "__main__":
    main()
