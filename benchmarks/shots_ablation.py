"""Shot-head ablation: each step's grouped 5-fold CV figures, from the same cached features.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.shots_ablation [--steps a,b] [--md OUT]``.
Each step is exactly ``modiste train shots --no-save --cv 5`` with the flags shown, so any row
can be rerun alone from the CLI.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

# name → (cli flags, FeatureSpec kwargs, train kwargs)
STEPS: dict[str, tuple[str, dict, dict]] = {
    "gem": (
        "--pooling gem --no-cues --no-flip-aug",
        {"pooling": "gem", "cues": False},
        {"flip_aug": False},
    ),
    "avgmax": ("--pooling avgmax --no-cues --no-flip-aug", {"cues": False}, {"flip_aug": False}),
    "avgmax+flip": ("--no-cues", {"cues": False}, {}),
    "avgmax+flip+cues(all)": ("--cue-set all", {"cue_set": "all"}, {}),
    "avgmax+flip+cues": ("", {}, {}),
    "avgmax+flip+cues+tta": ("--tta", {"tta": True}, {}),
    "avgmax+flip+cues C=0.1": ("-C 0.1", {}, {"c": 0.1}),
    "avgmax+flip+cues C=0.03": ("-C 0.03", {}, {"c": 0.03}),
    "avgmax+flip+cues x3": ("--cue-weight 3", {"cue_weight": 3.0}, {}),
    "avgmax+flip+cues x10": ("--cue-weight 10", {"cue_weight": 10.0}, {}),
    "avgmax+flip+cues C=10": ("-C 10", {}, {"c": 10.0}),
    "effnet-lite0 avgmax+flip+cues": (
        "--backbone efficientnet_lite0",
        {"backbone": "efficientnet_lite0"},
        {},
    ),
    "gem+flip+cues": ("--pooling gem", {"pooling": "gem"}, {}),
    "bands+flip+cues": ("--pooling avgmax_bands", {"pooling": "avgmax_bands"}, {}),
    "bands+flip+cues+tta": (
        "--pooling avgmax_bands --tta",
        {"pooling": "avgmax_bands", "tta": True},
        {},
    ),
    "bands+flip": (
        "--pooling avgmax_bands --no-cues",
        {"pooling": "avgmax_bands", "cues": False},
        {},
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/modiste-cache/shots"))
    ap.add_argument("--md", type=Path, default=None, help="Append the markdown table here.")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/modiste-cache/ablation-data"),
        help="data folder (ONNX cache)",
    )
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    from modiste.config import Settings
    from modiste.training.shot_run import train_shots
    from modiste.training.shots import FeatureSpec

    settings = Settings(data_dir=args.work)
    rows, out = [], {}
    for name in args.steps.split(","):
        flags, spec_kw, kw = STEPS[name]
        rep, _ = train_shots(
            settings, args.datasets, FeatureSpec(**spec_kw), folds=5, cache_dir=args.cache_dir, **kw
        )
        m, a = rep["magento"], rep["all"]
        nb = m["per_class"].get("near_back", {}).get("recall", float("nan"))
        row = (
            f"| {name} | `{flags or '(defaults)'}` | {m['accuracy']:.3f} | {nb:.2f} | "
            f"{m['order_exact_match']:.3f} | {m['kendall_tau']:.3f} | {a['accuracy']:.3f} | "
            f"{a['macro_f1']:.3f} | {a['nll']:.3f} |"
        )
        print(row, flush=True)
        rows.append(row)
        out[name] = {
            "flags": flags,
            "magento": {k: m[k] for k in ("accuracy", "order_exact_match", "kendall_tau")},
            "near_back_recall": nb,
            "all_accuracy": a["accuracy"],
            "all_macro_f1": a["macro_f1"],
            "nll": a["nll"],
            "temperature": rep["temperature"],
        }
    header = (
        "| step | `modiste train shots --no-save --cv 5` flags | Magento acc | near_back recall | "
        "order exact | Kendall tau | all acc | all macro-F1 | NLL (calibrated) |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows) + "\n"
    print(table)
    if args.md:
        with args.md.open("a") as f:
            f.write(table)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
