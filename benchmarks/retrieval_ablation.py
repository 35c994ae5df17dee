"""Same-item retrieval ablation on Magento: which crop, pooling, layers and colour features help.

Run: ``flock /tmp/modiste-heavy.lock python -m benchmarks.retrieval_ablation [--cache DIR]``.
Prints one row per recipe (R@1, R@10, mAP on every image of gallery.csv, no training), the table
kept in docs/decisions/embeddings.md. Backbone features are cached per image set in ``--cache``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks.output import write_result

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
LAYERS = (6, 13, 16, 18)  # MobileNetV2 blocks: 32, 96, 160 and 1280 channels


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _square(image: Any, fill: tuple[int, int, int] = (255, 255, 255)) -> Any:
    from PIL import Image

    side = max(image.width, image.height)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def cnn_features(images: list[Any], settings: Any) -> dict[str, np.ndarray]:
    """GeM and avg+max pooled maps of several MobileNetV2 blocks, (N, C) each."""
    import torch

    from modiste.models.embedder import preprocess
    from modiste.models.registry import create_backbone

    bb = create_backbone("mobilenet_v2", weights_dirs=[settings.model_dir])
    feats: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for i in range(0, len(images), 16):
            x = torch.from_numpy(preprocess(images[i : i + 16], bb.cfg))
            for j, block in enumerate(bb.module.children()):
                x = block(x)
                if j in LAYERS:
                    gem = x.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)
                    feats.setdefault(f"gem{j}", []).append(gem.numpy())
                    feats.setdefault(f"avg{j}", []).append(x.mean(dim=(2, 3)).numpy())
                    feats.setdefault(f"max{j}", []).append(x.amax(dim=(2, 3)).numpy())
    return {k: np.concatenate(v) for k, v in feats.items()}


def cached_features(
    paths: list[Path], name: str, cache: Path, settings: Any
) -> dict[str, np.ndarray]:
    """CNN features of the whole image, the foreground crop and the square-padded crop."""
    from modiste.imaging import decode_image
    from modiste.models.colour import crop_foreground

    file = cache / f"{name}.npz"
    if file.is_file():
        return dict(np.load(file))
    images = [decode_image(p, draft_size=448).image for p in paths]
    crops = [crop_foreground(im) for im in images]
    out = {}
    for tag, ims in (("whole", images), ("crop", crops), ("sq", [_square(c) for c in crops])):
        for k, v in cnn_features(ims, settings).items():
            out[f"{tag}_{k}"] = v
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, **cast(dict[str, Any], out))
    return out


def main() -> None:
    import torch

    from modiste.config import Settings
    from modiste.evaluation.retrieval import load_items, same_item_metrics
    from modiste.imaging import decode_image
    from modiste.models.colour import ColourConfig, colour_histograms

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATASETS / "magento_luma" / "gallery.csv")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/modiste-cache/retrieval"))
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    settings = Settings(data_dir=args.cache / "data")
    items = load_items(args.data)
    paths, labels = [it.path for it in items], [it.label for it in items]
    f = cached_features(paths, args.data.parent.name, args.cache, settings)
    images = [decode_image(p, draft_size=256).image for p in paths]

    def colour(**kw: Any) -> np.ndarray:
        return colour_histograms(images, ColourConfig(**kw))

    rows: list[dict[str, Any]] = []

    def row(name: str, vec: np.ndarray) -> None:
        m = same_item_metrics(_l2(vec), labels)
        rows.append(
            {"recipe": name, **{k: float(m[k]) for k in ("recall_at_1", "recall_at_10", "map")}}
        )
        print(f"| {name} | {m['recall_at_1']:.3f} | {m['recall_at_10']:.3f} | {m['map']:.3f} |")

    print("| recipe | R@1 | R@10 | mAP |\n|---|---|---|---|")
    for tag in ("whole", "crop", "sq"):
        row(f"CNN {tag} GeM", f[f"{tag}_gem18"])
        row(f"CNN {tag} avg+max", np.hstack([_l2(f[f"{tag}_avg18"]), _l2(f[f"{tag}_max18"])]))
    for j in LAYERS[:-1]:
        row(f"CNN sq GeM block {j}", f[f"sq_gem{j}"])
    multi = np.hstack([_l2(f[f"sq_gem{j}"]) for j in (13, 16, 18)])
    row("CNN sq GeM blocks 13+16+18", multi)
    base = dict(h_bins=12, s_bins=4, v_bins=4, grey_bins=0, grey_sat=0.0, skin=False)
    row("colour HSV 12x4x4, bg dropped", colour(**base))
    row(
        "colour 12x4x4 + 8 grey bins (S<0.18)", colour(**{**base, "grey_bins": 8, "grey_sat": 0.18})
    )
    row("colour 12x4x4 + skin suppressed", colour(**{**base, "skin": True}))
    row("colour 24x4x4", colour(**{**base, "h_bins": 24}))
    row("colour 24x4x6", colour(**{**base, "h_bins": 24, "v_bins": 6}))
    row("colour 36x5x5 (default)", colour())
    row("colour 36x5x5 + skin suppressed", colour(skin=True))
    row("colour 36x5x5, 2 stripes (upper/lower)", colour(stripes=2))
    row("colour 36x5x5, 3 stripes", colour(stripes=3))
    col = colour()
    for cnn_name, cnn in (("GeM sq", f["sq_gem18"]), ("blocks 13+16+18 sq", multi)):
        for w in (0.5, 0.75, 1.0, 1.5):
            row(f"{cnn_name} + {w} x colour", np.hstack([_l2(_l2(cnn)), w * col]))
    write_result(args.json, json.dumps({"data": str(args.data), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
