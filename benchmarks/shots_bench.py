"""Shot classification throughput: ONNX Runtime vs PyTorch, same backbone, same images.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_bench [--threads 2]``.
Measures (1) backbone+pooling on pre-decoded 224 px images, per runtime, and (2) the full shot
classifier (features + cues + head, and the OCR cue when MODISTE_SHOT_OCR leaves it on; the head
alone beside it) end to end from JPEG files, decode included. Images are real Magento photos when
../shared/datasets exists, otherwise seeded random images.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def _images(n: int, catalog: str = "magento_luma") -> tuple[list, list[Path]]:
    """``n`` real photos (the first Magento ones, or a seeded sample of the Myntra catalog,
    which no shot head was trained on), else seeded random images."""
    import random

    from PIL import Image

    from modiste.imaging import decode_image

    paths = sorted((DATASETS / catalog / "images").glob("*.jpg"))
    paths = (
        paths[:n]
        if catalog == "magento_luma"
        else random.Random(0).sample(paths, min(n, len(paths)))
    )
    if paths:
        return [decode_image(p, draft_size=448).image for p in paths], paths
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (512, 410, 3), dtype=np.uint8)) for _ in range(n)
    ], []


def _rate(fn, n: int, repeats: int) -> float:
    fn()  # warm-up (ONNX export / session creation, allocator)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def _compare_heads(settings, other_head: Path, images: list, args) -> dict[str, object]:
    """Full classifier images/s of the default head and ``other_head``, rounds alternating."""
    import shutil

    from modiste.config import Settings
    from modiste.gallery.classifier import create_shot_classifier, user_head_path

    other = Settings(data_dir=args.work / "compare-head")
    user_head_path(other).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(other_head, user_head_path(other))
    clfs = {"default": create_shot_classifier(settings), "other": create_shot_classifier(other)}
    refined = {}
    for key, clf in clfs.items():  # photos a refine pass reads (gated heads with one)
        clf.predict(images)
        refined[key] = clf.last_refined
    rates: dict[str, list[float]] = {k: [] for k in clfs}
    for _ in range(args.repeats):
        for key, clf in clfs.items():
            clf.embedder.batch_size = args.batch
            rates[key].append(_rate(lambda c=clf: c.predict(images), len(images), 1))
    out: dict[str, object] = {"other_head": str(other_head)}
    for key, clf in clfs.items():
        out[f"{key}_size"] = clf.spec.size
        out[f"{key}_classifier_onnx_img_s"] = round(max(rates[key]), 1)
        out[f"{key}_refine_size"] = getattr(clf.head, "refine_size", None)
        out[f"{key}_refined_photos"] = refined[key]
    out["other_over_default"] = round(max(rates["other"]) / max(rates["default"]), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backbone", default="mobilenet_v2")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/modiste-cache/bench-data"),
        help="data folder (ONNX cache)",
    )
    ap.add_argument(
        "--compare-head",
        type=Path,
        default=None,
        help="another head file (e.g. one trained at another --size): its full classifier is "
        "timed in the same run, rounds alternating with the default head's",
    )
    ap.add_argument(
        "--catalog",
        choices=("magento_luma", "fashion_products"),
        default="magento_luma",
        help="photos to time: Magento (the shot head's own training photos) or a seeded sample "
        "of Myntra catalog photos it never saw",
    )
    args = ap.parse_args()
    os.environ["MODISTE_INFERENCE_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from modiste.config import Settings
    from modiste.gallery.classifier import create_shot_classifier
    from modiste.models.embedder import Embedder

    settings = Settings(data_dir=args.work)
    images, paths = _images(args.n, args.catalog)
    n = len(images)
    res: dict[str, object] = {
        "threads": args.threads,
        "images": n,
        "size": 224,
        "batch": args.batch,
        "backbone": args.backbone,
        "real_images": bool(paths),
        "catalog": args.catalog,
    }
    for runtime in ("torch", "onnx"):
        emb = Embedder.from_settings(
            settings,
            args.backbone,
            pooling="avgmax",
            runtime=runtime,
            threads=args.threads,
            batch_size=args.batch,
        )
        res[f"backbone_{runtime}_img_s"] = round(
            _rate(lambda e=emb: e.predict(images), n, args.repeats), 1
        )
    from modiste.models.cues import CueExtractor

    for faces in (False, True):
        ext = CueExtractor(faces=faces)
        key = "cues_with_faces_img_s" if faces else "cues_layout_img_s"
        res[key] = round(_rate(lambda e=ext: e.predict(images), n, args.repeats), 1)
    try:
        clf = create_shot_classifier(settings, runtime="onnx")
        clf.embedder.batch_size = args.batch
        res["classifier_onnx_img_s"] = round(_rate(lambda: clf.predict(images), n, args.repeats), 1)
        if paths:
            res["classifier_onnx_from_jpeg_img_s"] = round(
                _rate(lambda: clf.predict_paths(paths), n, args.repeats), 1
            )
        if clf.text_stage is not None:  # the OCR cue (MODISTE_SHOT_OCR, on by default)
            stage, clf.text_stage = clf.text_stage, None
            res["classifier_onnx_no_ocr_img_s"] = round(
                _rate(lambda: clf.predict(images), n, args.repeats), 1
            )
            clf.text_stage = stage
            clf.predict(images)
            res["classifier_ocr_gated_photos"] = int(stage.last_stats["gated"])
        res["classifier_cues"] = clf.spec.cues
        res["classifier_tta"] = clf.spec.tta
        # the same run: the mirror pass on every photo (as before the ingest's step 6), and the
        # ingest's lanes (one one-thread session per thread, docs/decisions/ingest-and-storage.md)
        variants = {
            "classifier_onnx_mirror_always_img_s": (
                Settings(data_dir=args.work, shot_mirror="always"),
                1,
            ),
            "classifier_onnx_lanes_img_s": (settings, args.threads),
        }
        for key, (cfg, lanes) in variants.items():
            other = create_shot_classifier(cfg, runtime="onnx", lanes=lanes)
            other.embedder.batch_size = args.batch
            res[key] = round(_rate(lambda o=other: o.predict(images), n, args.repeats), 1)
    except Exception as e:  # no shipped head yet: report the backbone figures alone
        res["classifier_error"] = str(e)
    if args.compare_head is not None:
        res["compare"] = _compare_heads(settings, args.compare_head, images, args)
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
