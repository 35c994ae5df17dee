"""Raw FAISS codec sweep used to choose the default compressed layout (see
``docs/decisions/vector-index-layout.md``). Heavy: run under ``flock /tmp/modiste-heavy.lock``::

    OMP_NUM_THREADS=2 python -m benchmarks.index_codecs --n 100000 --dim 1280 \
        "IVFNL,PQ128" "IVFNL,SQ4" "IVFNL,SQ6" "IVFNL,PQ64,Refine(SQ4)"

``NL`` is replaced by 4·sqrt(n). Prints recall@10, p50/p99 single-query latency, bytes/vector.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.index_data import ClusteredVectors, exact_topk
from benchmarks.output import write_result


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--nprobe", type=int, action="append")
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args()
    faiss.omp_set_num_threads(2)
    data = ClusteredVectors(dim=args.dim)
    x = np.concatenate([b for _, b in data.chunks(args.n)])
    q = data.queries(args.queries)
    _, truth = exact_topk(data, args.n, q, 10)
    nlist = int(4 * np.sqrt(args.n))
    rows: list[dict[str, Any]] = []
    for raw in args.specs:
        spec = raw.replace("NL", str(nlist))
        index = faiss.index_factory(args.dim, spec, faiss.METRIC_INNER_PRODUCT)
        t = time.time()
        index.train(x[: min(args.n, 100_000)])
        index.add(x)
        build = time.time() - t
        size = faiss.serialize_index(index).nbytes / args.n
        ivf = "IVF" in spec
        for nprobe in (args.nprobe or [8, 32]) if ivf else [0]:
            for kf in [1, 2, 4] if "Refine" in spec else [1]:
                ivf_params: Any = None  # kept alive here: refine points at it from C++
                if ivf:
                    ivf_params = faiss.SearchParametersIVF()
                    ivf_params.nprobe = nprobe
                params = ivf_params
                if "Refine" in spec:
                    params = faiss.IndexRefineSearchParameters()
                    params.k_factor, params.base_index_params = kf, ivf_params
                faiss.omp_set_num_threads(1)
                lat, found = [], []
                for row in q:
                    t = time.perf_counter()
                    _, ids = index.search(row[None], 10, params=params)
                    lat.append(time.perf_counter() - t)
                    found.append(ids[0])
                faiss.omp_set_num_threads(2)
                recall = np.mean(
                    [len(set(f) & set(g)) / 10 for f, g in zip(found, truth, strict=True)]
                )
                row = {
                    "spec": spec,
                    "nprobe": nprobe,
                    "k_factor": kf,
                    "recall_at_10": round(float(recall), 4),
                    "p50_ms": round(float(np.median(lat)) * 1e3, 3),
                    "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
                    "bytes_per_vector": round(size, 1),
                    "build_s": round(build, 2),
                }
                rows.append(row)
                print(
                    f"{spec:34s} nprobe={nprobe:3d} k_factor={kf} recall@10={recall:.3f} "
                    f"p50={np.median(lat) * 1e3:.2f}ms p99={np.percentile(lat, 99) * 1e3:.2f}ms "
                    f"B/vec={size:.0f} build={build:.1f}s",
                    flush=True,
                )
    write_result(args.json, json.dumps({"n": args.n, "dim": args.dim, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
