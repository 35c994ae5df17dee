"""Build a near-duplicate benchmark set from the real dev photos, reproducibly.

Usage::

    python -m benchmarks.make_dedupe_set --out /tmp/modiste-cache/dedupe_set --seed 0

Writes ``dups.csv`` (``image_path, group_id``; images sharing a group are duplicates; singleton
groups are distractors) and ``manifest.csv`` (where each file came from and which alteration it
had) under ``--out``. Never point ``--out`` into the repository.

Why it is hard: the distractors are chosen to look like the originals — the other colours and
views of the same Magento style (Luma recolours one studio shot per colour, so only the garment's
hue differs) and other photos by the same clothing_dataset contributor (same background, same
light) or of the same category.

The photo pool is split in two by style (Magento) and contributor (clothing_dataset): even seeds
draw from one half, odd seeds from the other, so a tuning set (seed 1) shares no photo, style or
contributor with the test set (seed 0).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import shutil
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from modiste.exports import SafeWriter

DEFAULT_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
ALTERATIONS = ("jpeg", "resize", "crop", "brightness", "watermark", "repad")


def _half(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2


def _load_pools(root: Path, half: int) -> tuple[list[dict], list[dict]]:
    mag = [
        {**r, "path": root / "magento_luma" / r["image_path"], "src": "magento"}
        for r in csv.DictReader((root / "magento_luma" / "gallery.csv").open())
    ]
    clo = [
        {**r, "path": root / "clothing_dataset" / r["image_path"], "src": "clothing"}
        for r in csv.DictReader((root / "clothing_dataset" / "labels.csv").open())
        if r["label"] not in ("Skip", "Not sure", "Other")
    ]
    mag = [r for r in mag if _half(f"style:{r['style_id']}") == half]
    clo = [r for r in clo if _half(f"sender:{r['sender_id']}") == half]
    return mag, clo


def alter(im: Image.Image, kind: str, rng: random.Random) -> tuple[Image.Image, int, str]:
    """Apply one alteration; returns (image, JPEG quality to save with, description)."""
    w, h = im.size
    if kind == "jpeg":
        q = rng.randint(12, 30)
        return im, q, f"jpeg q={q}"
    if kind == "resize":
        s = rng.uniform(0.5, 0.7)
        return (
            im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS),
            90,
            f"{s:.2f}",
        )
    if kind == "crop":
        fx, fy = rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.15)
        lx, ty = rng.uniform(0, fx), rng.uniform(0, fy)  # split between opposite edges
        box = (round(lx * w), round(ty * h), round(w - (fx - lx) * w), round(h - (fy - ty) * h))
        return im.crop(box), 90, f"fx={fx:.2f} fy={fy:.2f}"
    if kind == "brightness":
        f = rng.choice((-1, 1)) * rng.uniform(0.2, 0.3)
        return ImageEnhance.Brightness(im).enhance(1 + f), 90, f"{f:+.2f}"
    if kind == "watermark":
        text = rng.choice(("© modiste shop", "SAMPLE", "www.shop-example.com", "© 2024 Boutique"))
        size = max(10, round(h * rng.uniform(0.06, 0.1)))
        font = ImageFont.load_default(size=size)
        layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        tw = draw.textlength(text, font=font)
        x = rng.uniform(0, max(1.0, w - tw))
        y = rng.uniform(0.1 * h, 0.85 * h)
        shade = rng.choice((255, 128, 0))
        draw.text((x, y), text, font=font, fill=(shade, shade, shade, rng.randint(120, 200)))
        out = Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")
        return out, 90, f"'{text}' size={size}"
    if kind == "repad":
        s = rng.uniform(1.1, 1.4)
        colour = rng.choice(((255, 255, 255), (240, 240, 240), (200, 200, 200)))
        cw, ch = round(w * s), round(h * rng.uniform(1.0, s))
        canvas = Image.new("RGB", (cw, ch), colour)
        canvas.paste(im, (rng.randint(0, cw - w), rng.randint(0, ch - h)))
        return canvas, 90, f"scale={s:.2f} bg={colour[0]}"
    raise ValueError(kind)


def _save(im: Image.Image, path: Path, quality: int) -> None:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    path.write_bytes(buf.getvalue())


def build(
    datasets: Path, out: Path, seed: int, n_originals: int, n_copies: int, n_distractors: int
) -> Path:
    """Write the set under ``out`` and return the path of ``dups.csv``."""
    rng = random.Random(seed)
    mag, clo = _load_pools(datasets, seed % 2)
    by_style: dict[str, list[dict]] = defaultdict(list)
    for r in mag:
        by_style[r["style_id"]].append(r)
    by_sender: dict[str, list[dict]] = defaultdict(list)
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in clo:
        by_sender[r["sender_id"]].append(r)
        by_label[r["label"]].append(r)

    # One third Magento originals (one per style, so its siblings can be distractors).
    n_mag = min(n_originals // 3, len(by_style))
    styles = rng.sample(sorted(by_style), n_mag)
    originals = [rng.choice(by_style[s]) for s in styles]
    clo_pool = sorted(clo, key=lambda r: r["image_path"])
    originals += rng.sample(clo_pool, n_originals - n_mag)
    used = {str(r["path"]) for r in originals}

    hard: list[dict] = []
    for r in originals:  # siblings first: other colours/views of the style, same contributor
        pool = by_style[r["style_id"]] if r["src"] == "magento" else by_sender[r["sender_id"]]
        pool = [p for p in pool if str(p["path"]) not in used]
        rng.shuffle(pool)
        hard += pool[:3]
        used.update(str(p["path"]) for p in pool[:3])
    rng.shuffle(hard)
    distractors = hard[: n_distractors * 3 // 4]
    used = {str(r["path"]) for r in originals + distractors}
    labels = [r["label"] for r in originals if r["src"] == "clothing"]
    while len(distractors) < n_distractors:  # same-category photos from anyone
        pool = by_label[rng.choice(labels)]
        r = rng.choice(pool)
        if str(r["path"]) not in used:
            distractors.append(r)
            used.add(str(r["path"]))

    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    rows: list[tuple[str, str]] = []
    manifest: list[tuple[str, str, str, str, str]] = []

    def name() -> str:
        return f"images/{rng.getrandbits(64):016x}.jpg"

    for gi, r in enumerate(originals):
        group = f"g{gi:04d}"
        rel = name()
        shutil.copyfile(r["path"], out / rel)
        rows.append((rel, group))
        manifest.append((rel, group, str(r["path"]), "original", ""))
        with Image.open(r["path"]) as src:
            base = src.convert("RGB")
        for kind in rng.sample(ALTERATIONS, n_copies):
            im, quality, desc = alter(base, kind, rng)
            rel = name()
            _save(im, out / rel, quality)
            rows.append((rel, group))
            manifest.append((rel, group, str(r["path"]), kind, desc))
    for di, r in enumerate(distractors):
        rel = name()
        shutil.copyfile(r["path"], out / rel)
        rows.append((rel, f"d{di:04d}"))
        manifest.append((rel, f"d{di:04d}", str(r["path"]), "distractor", ""))

    order = list(range(len(rows)))
    rng.shuffle(order)
    with (out / "dups.csv").open("w", newline="") as fh:
        w = SafeWriter(fh)
        w.writerow(("image_path", "group_id"))
        w.writerows(rows[i] for i in order)
    with (out / "manifest.csv").open("w", newline="") as fh:
        w = SafeWriter(fh)
        w.writerow(("image_path", "group_id", "source", "alteration", "detail"))
        w.writerows(manifest[i] for i in order)
    return out / "dups.csv"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--originals", type=int, default=120)
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--distractors", type=int, default=400)
    a = p.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if a.out.resolve().is_relative_to(repo):
        raise SystemExit("refusing to write dataset images into the repository")
    path = build(a.datasets, a.out, a.seed, a.originals, a.copies, a.distractors)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
