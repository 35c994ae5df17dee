"""Few-shot check: teach the shipped shot head classes it has never seen, from k photos each.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_fewshot [--k 5]``.
Uses tags_fabrics (evaluation-only data; nothing is saved): learns ``material`` and ``wash_tag``
from the first k (seeded) photos of each, then scores the remaining tags_fabrics photos and checks
that Magento photos keep their labels (those were training photos of the shipped head, so this
measures forgetting, not generalisation).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--magento", type=int, default=80, help="Magento photos checked for forgetting."
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/modiste-cache/fewshot-data"),
        help="data folder (ONNX cache)",
    )
    ap.add_argument("--test-limit", type=int, default=None, help="tags photos scored (all)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    from modiste.config import Settings
    from modiste.evaluation.metrics import accuracy
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.imaging import decode_image
    from modiste.training.shot_data import gallery_samples

    rng = random.Random(args.seed)
    tags = gallery_samples(DATASETS / "tags_fabrics" / "gallery.csv")
    rng.shuffle(tags)
    train: dict[str, list] = {}
    test = []
    for s in tags:
        label = "wash_tag" if s.label == "brand_tag" else s.label  # one brand_tag photo: fold in
        if len(train.setdefault(label, [])) < min(args.k, 3 if label == "wash_tag" else args.k):
            train[label].append(decode_image(s.path, draft_size=512).image)
        else:
            test.append((s, label))
    test = test[: args.test_limit]
    mag = gallery_samples(DATASETS / "magento_luma" / "gallery.csv")
    mag = rng.sample(mag, min(args.magento, len(mag)))
    clf = create_shot_classifier(Settings(data_dir=args.work))
    before = [p.label for p in clf.predict_paths([s.path for s in mag])]
    clf.learn(train)
    after_tags = [p.label for p in clf.predict_paths([s.path for s, _ in test])]
    after_mag = [p.label for p in clf.predict_paths([s.path for s in mag])]
    truth = [lab for _, lab in test]
    res = {
        "k": args.k,
        "learned": {k: len(v) for k, v in train.items()},
        "tags_test_images": len(test),
        "tags_accuracy": accuracy(truth, after_tags),
        "per_class_recall": {
            lab: accuracy(
                [t for t in truth if t == lab],
                [p for t, p in zip(truth, after_tags, strict=True) if t == lab],
            )
            for lab in sorted(set(truth))
        },
        "magento_accuracy_before": accuracy([s.label for s in mag], before),
        "magento_accuracy_after": accuracy([s.label for s in mag], after_mag),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
