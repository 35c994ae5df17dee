"""End-to-end latency of a photo query: decode + detect + embed (per garment) + index search.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.search_bench [--threads 2] [--n 20000]``.
The index holds ``--n`` random unit vectors (FAISS, the default backend; the search cost depends
on the count, not on the content) with catalog-like payloads; queries are CCP street photos when
../shared/datasets exists (else seeded random JPEGs). Reports median and p90 per step, in ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"


def _query_bytes(n: int) -> list[bytes]:
    paths = sorted((DATASETS / "ccp_street" / "images").glob("*.jpg"))[:n]
    if paths:
        return [p.read_bytes() for p in paths]
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (600, 400, 3), dtype=np.uint8)).save(buf, "JPEG")
        out.append(buf.getvalue())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=20_000, help="vectors in the index")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["MODISTE_INFERENCE_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from modiste.config import Settings
    from modiste.imaging import decode_image
    from modiste.index import create_index
    from modiste.models.crop_embedder import create_crop_embedder
    from modiste.search.visual import SearchService, load_detector

    settings = Settings(data_dir=Path("/tmp/modiste-cache/search_bench"))
    embedder = create_crop_embedder(settings)
    detector = load_detector(settings)
    rng = np.random.default_rng(0)
    index = create_index("faiss", embedder.dim, None)
    labels = ["top", "bottom", "outerwear", "dress", "footwear"]
    for start in range(0, args.n, 5000):
        n = min(5000, args.n - start)
        vecs = rng.normal(size=(n, embedder.dim)).astype(np.float32)
        pays = [
            {
                "product_id": start + i,
                "image_id": start + i,
                "label": labels[i % 5],
                "product_type": "tops",
                "gender": "women",
                "seller": "s",
                "price": float(i % 90),
            }
            for i in range(n)
        ]
        index.add(list(range(start, start + n)), vecs, pays)
    service = SearchService(settings, None, index, embedder, detector)
    steps: dict[str, list[float]] = {
        k: [] for k in ("decode", "detect", "embed", "search", "total")
    }
    data = _query_bytes(args.queries)
    service.search_image(decode_image(data[0]).image, None, 12)  # warm-up: ONNX sessions
    n_objects = []
    for raw in data:
        t0 = time.perf_counter()
        image = decode_image(raw, draft_size=1024).image
        t1 = time.perf_counter()
        garments = service.detect(image)
        t2 = time.perf_counter()
        from modiste.search.crops import crop_garments

        crops = crop_garments(image, garments, 0.1, min_side=1)
        vecs = embedder.embed([c.image for c in crops])
        t3 = time.perf_counter()
        for c, v in zip(crops, vecs, strict=True):
            service.search_vector(v, None, 12, label=c.category)
        t4 = time.perf_counter()
        n_objects.append(len(crops))
        for k, v in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
            steps[k].append(v * 1000)
    report = {
        "threads": args.threads,
        "index_vectors": args.n,
        "dim": embedder.dim,
        "detector": type(detector).__name__ if detector else "none (whole image)",
        "queries": len(data),
        "mean_objects": float(np.mean(n_objects)),
        **{
            f"{k}_ms": {
                "median": round(float(np.median(v)), 1),
                "p90": round(float(np.percentile(v, 90)), 1),
            }
            for k, v in steps.items()
        },
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
