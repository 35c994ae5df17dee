"""Compliance checker on real catalog photos turned into main images with known faults.

From ``../shared/datasets`` (never copied into the repo; the set is built in ``--work``):

- Magento Luma studio photos: each product's first photo is trimmed to its content and put on a
  white canvas at 88-95 % fill (clean), then, product by product in turn, given one fault: a
  coloured backdrop (the white background flood-filled with a light colour), overlay text drawn
  with PIL (price badges, "SALE", a shop watermark, a banner across the frame), the product too
  small in the frame (50-70 % fill), or a re-encoded copy of it added to the gallery. The
  product's other photos stay in its gallery (front and back of one garment: hard negatives for
  the duplicate rule).
- fashion_products t-shirts whose print carries text (chosen where OCR reads text inside the
  garment), upscaled to catalog size: clean main images with printed text, and the same with an
  overlay added.

The checker runs with a profile written here (main image on white, fill >= 80 %, no overlay
text; no duplicates in the gallery) on stored fingerprints and shot labels, as the catalog
does: its text rule runs the text detector alone (``--ocr read``: the full reader, detection
and recognition, for comparison; ``--ocr-side``: the detector's input size). Reported: precision
and recall per rule, and images per second. A second pass runs the detector on every main image
(``force_ocr``), which tests the printed-versus-overlay decision itself rather than the cheap
gate in front of it.

    python -m benchmarks.compliance_bench --json benchmarks/results/compliance_bench.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.output import write_result
from modiste.compliance import measure
from modiste.compliance.check import check_gallery
from modiste.compliance.measure import OCR_SIDE, ImageInput, default_ocr
from modiste.compliance.profiles import profile_from_dict
from modiste.domain import Box
from modiste.imaging.hashes import content_box, fingerprint_image

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
PROFILE: dict[str, Any] = {
    "name": "bench",
    "rules": [
        {"id": "background", "kind": "background", "applies_to": "main",
         "color": [255, 255, 255], "tolerance": 8, "min_share": 0.97},
        {"id": "fill", "kind": "fill", "applies_to": "main", "min": 0.80},
        {"id": "text", "kind": "text", "applies_to": "main"},
        {"id": "duplicate", "kind": "duplicate"},
    ],
}  # fmt: skip
RULES = ("background", "fill", "text", "duplicate")
CONDITIONS = ("clean", "background", "text", "fill", "duplicate")
BACKDROPS = [(240, 240, 240), (236, 229, 218), (221, 234, 246), (205, 205, 205),
             (250, 232, 232), (232, 244, 230), (245, 242, 225)]  # fmt: skip
WORDS = ["SALE", "-30%", "NEW", "BESTSELLER", "FREE SHIPPING", "© myshop.example", "ONLY €19",
         "TOP", "-50%", "LIMITED"]  # fmt: skip
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
# Photos of the source galleries that are re-saves of an earlier photo of the same gallery
# (checked by eye: side_b is alt1 shifted a few pixels): real duplicates, counted as such.
KNOWN_DATASET_DUPLICATES = frozenset({"images/mp07-blue_side_b.jpg"})


@dataclass
class Gallery:
    product: str
    condition: str
    images: list[ImageInput]
    truth: dict[str, set[str]] = field(default_factory=dict)  # image key -> faults


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _jpeg(img: Image.Image | np.ndarray, quality: int = 92) -> bytes:
    im = Image.fromarray(img) if isinstance(img, np.ndarray) else img
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _on_canvas(rgb: np.ndarray, fill: float, rng: random.Random) -> np.ndarray:
    """The content trimmed and centred on white so its long side spans ``fill`` of the frame
    (a 1:1.25 portrait canvas: what marketplaces ask for)."""
    x1, y1, x2, y2 = content_box(rgb)
    crop = rgb[y1:y2, x1:x2]
    ch, cw = crop.shape[:2]
    H = 1000
    W = 800
    scale = min(fill * W / cw, fill * H / ch)
    if max(cw * scale / W, ch * scale / H) < fill - 1e-3:
        scale = fill * max(W / cw, H / ch)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    small = Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    jitter = (1 - max(size[0] / W, size[1] / H)) / 2
    ox = round((W - size[0]) / 2 + rng.uniform(-jitter, jitter) * W * 0.5)
    oy = round((H - size[1]) / 2 + rng.uniform(-jitter, jitter) * H * 0.5)
    canvas.paste(small, (max(0, ox), max(0, oy)))
    return np.asarray(canvas)


def _backdrop(rgb: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """Flood-fill the white background from the border with ``color`` (as a reshoot on a
    coloured sweep would look)."""
    import cv2

    out = rgb.copy()
    h, w = out.shape[:2]
    mask = np.zeros((h + 2, w + 2), np.uint8)
    # Fixed range around the seed's white: a floating range would creep through a white
    # garment's soft shading and recolour the product too.
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    for seed in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        if not mask[seed[1] + 1, seed[0] + 1]:
            cv2.floodFill(out, mask, seed, (0, 0, 0), (3, 3, 3), (3, 3, 3), flags)
    bg = mask[1:-1, 1:-1] > 0
    out[bg] = color
    return out


def _overlay(rgb: np.ndarray, rng: random.Random) -> tuple[np.ndarray, set[str]]:
    """Overlay text the way shops add it: corner badges, a caption, a watermark or a banner.

    Returns the photo and its faults: a banner across the bottom also replaces the white
    background along that edge, so it breaks the background rule as well as the text rule.
    """
    im = Image.fromarray(rgb).convert("RGBA")
    w, h = im.size
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    kind = rng.choice(["corner", "corner", "badge", "caption", "watermark", "banner"])
    word = rng.choice(WORDS)
    size = round(h * rng.uniform(0.04, 0.08))
    font = _font(size)
    tw, th = (lambda b: (b[2] - b[0], b[3] - b[1]))(draw.textbbox((0, 0), word, font=font))
    red = (rng.randint(170, 230), rng.randint(0, 40), rng.randint(0, 40), 255)
    if kind in ("corner", "badge"):
        pad = size // 2 if kind == "badge" else 0  # inside the frame, as shops place them
        mx, my = round(0.03 * w) + pad, round(0.03 * h) + pad
        x = rng.choice([mx, w - tw - mx])
        y = rng.choice([my, h - th - my])
        if kind == "badge":
            draw.ellipse((x - pad, y - pad, x + tw + pad, y + th + pad), fill=red)
            draw.text((x, y - size // 8), word, font=font, fill=(255, 255, 255, 255))
        else:
            draw.text((x, y), word, font=font, fill=red)
    elif kind == "caption":  # under or beside the product, may touch it
        draw.text(
            ((w - tw) // 2, h - th - round(0.02 * h)), word, font=font, fill=(20, 20, 20, 255)
        )
    elif kind == "watermark":  # grey, half transparent, across the middle of the frame
        text = "myshop.example " * 3
        font = _font(round(h * 0.05))
        draw.text((round(0.02 * w), h // 2), text, font=font, fill=(120, 120, 120, 140))
    else:  # a band across the bottom
        band = round(h * 0.09)
        draw.rectangle((0, h - band, w, h), fill=red)
        draw.text(((w - tw) // 2, h - band + (band - th) // 3), word, font=font,
                  fill=(255, 255, 255, 255))  # fmt: skip
    faults = {"text", "background"} if kind == "banner" else {"text"}
    return np.asarray(Image.alpha_composite(im, layer).convert("RGB")), faults


def _copy(rgb: np.ndarray, rng: random.Random) -> bytes:
    """A re-saved copy: another JPEG quality, resized, sometimes cropped a little."""
    im = Image.fromarray(rgb)
    w, h = im.size
    if rng.random() < 0.5:
        c = rng.uniform(0.02, 0.06)
        im = im.crop((round(c * w), round(c * h), round((1 - c) * w), round((1 - c) * h)))
    s = rng.uniform(0.6, 0.9)
    im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
    return _jpeg(im, rng.randint(60, 85))


def _item(key: str, data: bytes, label: str, pos: int, work: Path, product: str) -> ImageInput:
    """Write the photo and remember its stored facts (fingerprint, label) as the catalog does."""
    folder = work / product
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(data)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    fp = fingerprint_image(rgb, sha256=hashlib.sha256(data).hexdigest())
    return ImageInput(key, path=path, label=label, confidence=1.0, position=pos, fingerprint=fp)


def luma_galleries(datasets: Path, work: Path, n: int, rng: random.Random) -> list[Gallery]:
    root = datasets / "magento_luma"
    by_product: dict[str, list[dict[str, str]]] = {}
    with (root / "gallery.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_product.setdefault(row["product_id"], []).append(row)
    products = sorted(by_product)
    rng.shuffle(products)
    out = []
    for i, pid in enumerate(products[:n]):
        rows = sorted(by_product[pid], key=lambda r: (r["shot"] != "near_front", r["image_path"]))
        condition = CONDITIONS[i % len(CONDITIONS)]
        first = np.asarray(Image.open(root / rows[0]["image_path"]).convert("RGB"))
        fill = rng.uniform(0.55, 0.70) if condition == "fill" else rng.uniform(0.88, 0.95)
        main = _on_canvas(first, fill, rng)
        faults = {condition} if condition in ("background", "fill") else set()
        if condition == "background":
            main = _backdrop(main, rng.choice(BACKDROPS))
        elif condition == "text":
            main, faults = _overlay(main, rng)
        g = Gallery(pid, condition, [])
        g.images.append(_item("main.jpg", _jpeg(main), rows[0]["shot"], 0, work, pid))
        g.truth["main.jpg"] = faults
        for j, row in enumerate(rows[1:], start=1):
            data = (root / row["image_path"]).read_bytes()
            g.images.append(_item(f"view{j}.jpg", data, row["shot"], j, work, pid))
            dup = row["image_path"] in KNOWN_DATASET_DUPLICATES
            g.truth[f"view{j}.jpg"] = {"duplicate"} if dup else set()
        if condition == "duplicate":
            k = len(g.images)
            g.images.append(_item("copy.jpg", _copy(main, rng), rows[0]["shot"], k, work, pid))
            g.truth["copy.jpg"] = {"duplicate"}
        out.append(g)
    return out


def printed_tees(datasets: Path, work: Path, n: int, rng: random.Random, ocr: Any) -> list[Gallery]:
    """T-shirts whose print carries text (OCR reads text inside the garment), clean and with an
    overlay added in turn."""
    root = datasets / "fashion_products"
    with (root / "products.csv").open(encoding="utf-8") as f:
        rows = [
            r for r in csv.DictReader(f)
            if r["image_path"] and r["articleType"] == "Tshirts"
            and any(w in r["productDisplayName"] for w in ("Printed", "Graphic", "Text", "Slogan"))
        ]  # fmt: skip
    rng.shuffle(rows)
    out: list[Gallery] = []
    for row in rows:
        if len(out) >= n:
            break
        small = Image.open(root / row["image_path"]).convert("RGB")
        big = np.asarray(
            small.resize((small.width * 4, small.height * 4), Image.Resampling.LANCZOS)
        )
        main = _on_canvas(big, rng.uniform(0.88, 0.95), rng)
        if not _has_printed_text(main, ocr):
            continue
        condition = "clean-printed" if len(out) % 2 == 0 else "text-printed"
        faults: set[str] = set()
        if condition == "text-printed":
            main, faults = _overlay(main, rng)
        pid = f"tee-{row['id']}"
        g = Gallery(pid, condition, [_item("main.jpg", _jpeg(main), "flat_front", 0, work, pid)])
        g.truth["main.jpg"] = faults
        out.append(g)
    return out


def _has_printed_text(rgb: np.ndarray, ocr: Any) -> bool:
    from modiste.compliance.measure import analyse_pixels

    px = analyse_pixels(rgb)
    lines = ocr.read(Image.fromarray(rgb))
    h, w = rgb.shape[:2]
    box = px.product_box
    return box is not None and any(
        len(line.text.strip()) >= 3
        and box.x1 * w <= line.box.x1 and line.box.x2 <= box.x2 * w
        and box.y1 * h <= line.box.y1 and line.box.y2 <= box.y2 * h
        for line in lines
    )  # fmt: skip


class CountingOcr:
    """Counts the photos OCR reads (the expensive step the gate avoids)."""

    def __init__(self, ocr: Any) -> None:
        self.ocr = ocr
        self.calls = 0
        self.lines_read = 0  # detected lines read to confirm they are words

    def read(self, image: Image.Image, regions: Sequence[Box] | None = None) -> Any:
        self.calls += 1
        return self.ocr.read(image, regions)

    def words(self, image: Image.Image, boxes: Sequence[Box]) -> Any:
        self.lines_read += len(boxes)
        return self.ocr.words(image, boxes)


def evaluate(
    galleries: list[Gallery], ocr: Any, *, force_ocr: bool, rounds: int = 1
) -> dict[str, Any]:
    """Verdicts and counts from the first round; the time is the median round's (the machine
    is shared, and one burst of another job's work moves a single round by 2x)."""
    profile = profile_from_dict(PROFILE)
    counting = CountingOcr(ocr)
    counts = {r: {"tp": 0, "fp": 0, "fn": 0} for r in RULES}
    errors: list[dict[str, Any]] = []
    n_images = sum(len(g.images) for g in galleries)
    times = []
    reports: list[Any] = []
    for i in range(rounds):
        started = time.perf_counter()
        run = [
            check_gallery(profile, g.images, product=g.product,
                          ocr=counting if i == 0 else ocr, force_ocr=force_ocr)
            for g in galleries
        ]  # fmt: skip
        times.append(time.perf_counter() - started)
        if i == 0:
            reports = run
    seconds = sorted(times)[len(times) // 2]
    ocr = counting
    for g, report in zip(galleries, reports, strict=True):
        found = {i.image: {v.rule for v in i.violations} for i in report.images}
        for key, truth in g.truth.items():
            got = found.get(key, set())
            for rule in RULES:
                if rule in got and rule in truth:
                    counts[rule]["tp"] += 1
                elif rule in got:
                    counts[rule]["fp"] += 1
                elif rule in truth:
                    counts[rule]["fn"] += 1
                else:
                    continue
                if (rule in got) != (rule in truth):
                    errors.append({"product": g.product, "condition": g.condition, "image": key,
                                   "rule": rule, "expected": rule in truth})  # fmt: skip
    per_rule = {}
    for rule, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        per_rule[rule] = {**c, "precision": round(p, 3), "recall": round(r, 3)}
    ocr_runs = sum(
        1 for rep in reports for i in rep.images if any(s.rule == "text" for s in i.skipped)
    )
    return {
        "force_ocr": force_ocr,
        "images": n_images,
        "galleries": len(galleries),
        "seconds": round(seconds, 2),
        "rounds_seconds": [round(t, 2) for t in times],
        "images_per_s": round(n_images / seconds, 1),
        "per_rule": per_rule,
        "ocr_reads": ocr.calls,
        "lines_recognized": ocr.lines_read,
        "text_not_checked": ocr_runs,
        "errors": errors,
    }


def pixel_only_rate(galleries: list[Gallery], repeats: int = 3) -> float:
    """Images/s of the check without text rules (what every photo pays; OCR is gated)."""
    profile = profile_from_dict({**PROFILE, "rules": [r for r in PROFILE["rules"]
                                                       if r["kind"] != "text"]})  # fmt: skip
    n = sum(len(g.images) for g in galleries) * repeats
    started = time.perf_counter()
    for _ in range(repeats):
        for g in galleries:
            check_gallery(profile, g.images, product=g.product)
    return round(n / (time.perf_counter() - started), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/modiste-cache/compliance_set"))
    ap.add_argument("--n", type=int, default=150, help="Luma products (faults in turn)")
    ap.add_argument("--printed", type=int, default=24, help="t-shirts with printed text")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-force-ocr", action="store_true", help="skip the OCR-everywhere pass")
    ap.add_argument(
        "--rate-only",
        action="store_true",
        help="only the images/s of the pixel rules, on the Luma galleries",
    )
    ap.add_argument(
        "--ocr",
        choices=("detect", "read"),
        default="detect",
        help="the text rule's reader: detection only (as shipped) or detection + recognition",
    )
    ap.add_argument("--ocr-side", type=int, default=OCR_SIDE, help="long side the OCR sees")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (0: its default)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds of the gated check")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.threads = args.threads or None
    if not (args.datasets / "magento_luma" / "gallery.csv").is_file():
        print(f"no datasets at {args.datasets}")
        return 2
    if default_ocr() is None:
        print("rapidocr-onnxruntime is not installed: the text rule cannot be measured")
        return 2
    from modiste.models.ocr import OcrReader

    reader = OcrReader()  # builds the set: printed text is where OCR *reads* words
    # The checker makes one copy at OCR_SIDE for the detector and the reading of its lines;
    # the sweep sets that size (module attribute, read at each call).
    measure.OCR_SIDE = args.ocr_side
    ocr = OcrReader(max_side=args.ocr_side, recognize=args.ocr == "read", threads=args.threads)
    rng = random.Random(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    galleries = luma_galleries(args.datasets, args.work, args.n, rng)
    if args.rate_only:
        images = sum(len(g.images) for g in galleries)
        runs = [pixel_only_rate(galleries) for _ in range(3)]
        text = json.dumps({"images": images, "pixel_rules_images_per_s": runs}, indent=2)
        print(text)
        write_result(args.json, text)
        return 0
    galleries += printed_tees(args.datasets, args.work, args.printed, rng, reader)
    blank = Image.new("RGB", (64, 64), "white")  # load the models outside the timing
    ocr.read(blank)
    ocr.words(blank, [Box(0, 0, 64, 32)])
    result: dict[str, Any] = {
        "set": {
            "luma_products": args.n,
            "printed_tees": sum(1 for g in galleries if g.product.startswith("tee-")),
            "conditions": {
                c: sum(1 for g in galleries if g.condition == c)
                for c in sorted({g.condition for g in galleries})
            },
            "seed": args.seed,
        },
        "ocr": {"reader": args.ocr, "max_side": args.ocr_side, "threads": args.threads},
        "gated": evaluate(galleries, ocr, force_ocr=False, rounds=args.rounds),
        "pixel_rules_images_per_s": pixel_only_rate(galleries),
    }
    if not args.no_force_ocr:
        result["ocr_everywhere"] = evaluate(galleries, ocr, force_ocr=True)
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]  # shared machine
    text = json.dumps(result, indent=2)
    print(text)
    write_result(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
