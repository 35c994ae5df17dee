"""One image per (class, seed, index), a gallery CSV that ``train shots`` reads, contact sheets.

Each image has its own random stream, ``default_rng([seed, class, index])``: the same seed gives
the same bytes, whatever the other classes or counts asked for.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modiste.errors import ConfigError
from modiste.training.synth import photo
from modiste.training.synth.care import brand_label, care_label, printed_neck_label
from modiste.training.synth.charts import size_chart
from modiste.training.synth.details import DETAIL_SOURCES, detail_box, material_box, shows_outline
from modiste.training.synth.fabric import (
    apply_weave,
    auto_exposure,
    even_light,
    fabric_patch,
    scene_patch,
    stitch_line,
)
from modiste.training.synth.sources import Layout, SourcePool

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)
LABEL_CLASSES = ("wash_tag", "brand_tag", "size_chart")
CLASSES = (*LABEL_CLASSES, *DETAIL_SOURCES)
ASPECTS = {  # (W, H) ratios and their odds, per kind of shot
    "label": (((3, 4), 0.5), ((1, 1), 0.3), ((4, 3), 0.2)),
    "chart": (((1, 1), 0.3), ((4, 3), 0.3), ((4, 5), 0.2), ((3, 4), 0.2)),
    "detail": (((4, 5), 0.5), ((1, 1), 0.3), ((3, 4), 0.1), ((4, 3), 0.1)),
    "phone": (((9, 16), 0.5), ((3, 4), 0.4), ((1, 1), 0.1)),  # a whole phone frame, upright
}
CSV_COLUMNS = ["product_id", "image_path", "shot", "style_id", "note"]
BACKBONE_SIDE = 224  # what the shot head's backbone sees; upscaling is judged at this size
MAX_UPSCALE = 1.5  # a material window is cut at (near) the source's own resolution if it can
OUTLINED = {"collar", "hem", "sleeve_hem"}  # close-ups defined by the garment's edge
SCENE_SHARE = 0.5  # wash tags shot whole-frame (label small, garment and room around it)


@dataclass(frozen=True)
class SynthImage:
    """A generated photo, its class, and the real photo it was cut from or composited on."""

    image: Image.Image
    shot: str
    source: str
    group: str


def frame_size(rng: np.random.Generator, kind: str, long_side: int) -> tuple[int, int]:
    """(W, H) with the long side ``long_side`` and an aspect drawn as real shots of that kind."""
    options = ASPECTS[kind]
    k = int(rng.choice(len(options), p=[p for _, p in options]))
    aw, ah = options[k][0]
    if aw >= ah:
        return long_side, round(long_side * ah / aw)
    return round(long_side * aw / ah), long_side


def _pose_label(
    label: Image.Image,
    bg: Image.Image,
    rng: np.random.Generator,
    tilt: float,
    skew: float,
    shift: float,
) -> tuple[Image.Image, int]:
    """Curl (sometimes), rotate by up to ``tilt`` degrees, skew by up to ``skew`` and paste with a
    shadow near the middle of ``bg`` (off by up to ``shift`` of its size); returns the photo and
    the label's top edge."""
    from PIL import Image as PILImage

    w, h = bg.size
    if rng.random() < 0.6:
        label = photo.curl(label, rng, float(rng.uniform(0.01, 0.08)))
    label = label.rotate(
        float(rng.uniform(-tilt, tilt)), resample=PILImage.Resampling.BICUBIC, expand=True
    )
    label = photo.perspective(label, rng, float(rng.uniform(0.0, skew)))
    x = int((w - label.width) / 2 + rng.uniform(-shift, shift) * w)
    y = int((h - label.height) / 2 + rng.uniform(-shift, shift) * h)
    return photo.paste_with_shadow(bg, label, (x, y), rng), y


def _label_photo(
    label: Image.Image, pool: SourcePool, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[Image.Image, str, str]:
    """Composite a flat RGBA label on real fabric as a phone photo of it looks."""
    h = size[1]
    bg, key, group = fabric_patch(pool, rng, size)
    out, y = _pose_label(label, bg, rng, tilt=25, skew=0.12, shift=0.15)
    if rng.random() < 0.35:  # sewn into a seam: fabric folds over the label's top edge
        seam_fabric, _, _ = fabric_patch(pool, rng, size)
        out = photo.seam(out, max(4, y + int(rng.uniform(0.0, 0.12) * h)), seam_fabric, rng)
    if rng.random() < 0.35:
        out = photo.hand(out, rng)
    return photo.camera(out, rng), key, group


def _label_in_scene(
    label: Image.Image, pool: SourcePool, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[Image.Image, str, str]:
    """A label pulled out of a garment and photographed whole-frame with a phone: the label is
    a small part of the picture, the garment and whatever it lies on fill the rest."""
    bg, key, group = scene_patch(pool, rng, size)
    out, _ = _pose_label(label, bg, rng, tilt=30, skew=0.15, shift=0.2)
    if rng.random() < 0.6:  # the label is held up to the camera
        out = photo.hand(out, rng)
    return photo.camera(out, rng), key, group


def wash_tag(pool: SourcePool, rng: np.random.Generator, long_side: int) -> SynthImage:
    if rng.random() < SCENE_SHARE:
        size = frame_size(rng, "phone", long_side)
        label = care_label(rng, int(size[0] * rng.uniform(0.22, 0.45)))
        im, key, group = _label_in_scene(label, pool, rng, size)
        return SynthImage(im, "wash_tag", key, group)
    size = frame_size(rng, "label", long_side)
    label = care_label(rng, int(size[0] * rng.uniform(0.45, 0.8)))
    im, key, group = _label_photo(label, pool, rng, size)
    return SynthImage(im, "wash_tag", key, group)


def brand_tag(pool: SourcePool, rng: np.random.Generator, long_side: int) -> SynthImage:
    size = frame_size(rng, "label", long_side)
    if rng.random() < 0.65:  # woven label
        label = brand_label(rng, int(size[0] * rng.uniform(0.4, 0.8)))
        im, key, group = _label_photo(label, pool, rng, size)
        return SynthImage(im, "brand_tag", key, group)
    bg, key, group = fabric_patch(pool, rng, size)  # printed (tagless) neck label
    out = printed_neck_label(bg, rng)
    if rng.random() < 0.5:
        out = photo.seam(out, int(rng.uniform(0.05, 0.2) * size[1]), bg, rng)
    if rng.random() < 0.25:
        out = photo.hand(out, rng)
    return SynthImage(photo.camera(out, rng), "brand_tag", key, group)


def size_chart_image(pool: SourcePool, rng: np.random.Generator, long_side: int) -> SynthImage:
    size = frame_size(rng, "chart", long_side)
    if rng.random() < 0.7:  # posted as a digital image: sharp, only re-encoded
        return SynthImage(
            photo.jpeg(size_chart(rng, size), int(rng.integers(70, 96))), "size_chart", "-", "-"
        )
    card = size_chart(rng, (int(size[0] * 0.8), int(size[1] * 0.8))).convert("RGBA")
    im, key, group = _label_photo(card, pool, rng, size)
    return SynthImage(im, "size_chart", key, group)


def detail(cls: str, pool: SourcePool, rng: np.random.Generator, long_side: int) -> SynthImage:
    """A close-up cut from a real garment photo where :func:`detail_box` places ``cls``."""
    from PIL import Image as PILImage

    kinds, garments = DETAIL_SOURCES[cls]
    size = frame_size(rng, "detail", long_side)
    for _ in range(60):
        src = pool.pick(rng, kinds, garments)
        im = src.load()
        lay = Layout(im)
        box = detail_box(cls, lay, rng, size[0] / size[1], src.garment)
        if box is None or box[2] - box[0] < 8 or (cls in OUTLINED and not shows_outline(lay, box)):
            continue
        if rng.random() < 0.5:  # a hand-held camera is never quite level
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            im = im.rotate(
                float(rng.uniform(-8, 8)),
                resample=PILImage.Resampling.BILINEAR,
                center=(cx, cy),
                fillcolor=(255,) * 3,
            )
        crop = im.crop(box).resize(size, resample=3)
        if rng.random() < 0.5:
            crop = apply_weave(crop, rng, float(rng.uniform(0.02, 0.06)))
        return SynthImage(photo.camera(crop, rng), cls, src.key, src.group)
    raise ConfigError(f"no source photo shows a {cls} by the generator's geometry")


def material(pool: SourcePool, rng: np.random.Generator, long_side: int) -> SynthImage:
    """A fabric close-up as real ones are shot: a plain fabric area filling the frame, sharp,
    flat and evenly lit, often crossed by a straight machine-stitched seam.

    The first 40 tries want a window upscaled at most :data:`MAX_UPSCALE` times to the
    backbone's 224 px (the fabric the photo resolves, not an upscaled blur); ``alt_closeup``
    studio photos (fabric shown large) are sources too. Few plain windows in these 240-512 px
    sources are that large (126 of the 150 seed-1 images fell back), so later tries allow up
    to 4x: what the generated set gains is mostly plainness, even light and focus, not texture.
    """
    kinds, garments = DETAIL_SOURCES["material"]
    size = frame_size(rng, "detail", long_side)
    aspect = size[0] / size[1]
    for attempt in range(60):
        upscale = MAX_UPSCALE if attempt < 40 else 4.0
        min_side = min(long_side, BACKBONE_SIDE) / upscale / min(1.0, aspect)
        src = pool.pick(rng, kinds, garments)
        box = material_box(Layout(src.load()), rng, aspect, min_side)
        if box is None:
            continue
        crop = src.load().crop(box).resize(size, resample=3)
        crop = even_light(crop, float(rng.uniform(0.6, 1.0)))
        crop = auto_exposure(crop, float(rng.uniform(70, 170)))
        if rng.random() < 0.4:  # a hint of thread texture where the source is too soft for it
            crop = apply_weave(crop, rng, float(rng.uniform(0.02, 0.06)))
        if rng.random() < 0.6:  # close-ups of fabric often show a seam's stitching
            crop = stitch_line(crop, rng, straight=rng.random() < 0.8)
        return SynthImage(photo.camera(crop, rng, sharp=rng.random() < 0.8), "material",
                          src.key, src.group)  # fmt: skip
    raise ConfigError("no source photo shows a plain fabric area large enough for material")


GENERATORS: dict[str, Callable[[SourcePool, np.random.Generator, int], SynthImage]] = {
    "wash_tag": wash_tag,
    "brand_tag": brand_tag,
    "size_chart": size_chart_image,
    **{c: (lambda p, r, s, c=c: detail(c, p, r, s)) for c in DETAIL_SOURCES},  # type: ignore[misc]
    "material": material,
}


def generate_one(
    cls: str, pool: SourcePool, seed: int, index: int, long_side: int = 384
) -> SynthImage:
    """Image ``index`` of class ``cls`` for ``seed`` (independent of every other image)."""
    if cls not in GENERATORS:
        raise ConfigError(f"no generator for {cls!r}; valid: {', '.join(CLASSES)}")
    rng = np.random.default_rng([seed, CLASSES.index(cls), index])
    return GENERATORS[cls](pool, rng, long_side)


def write_dataset(
    out: Path,
    pool: SourcePool,
    classes: Sequence[str] = CLASSES,
    per_class: int = 100,
    seed: int = 0,
    long_side: int = 384,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """``out/images/<class>/*.jpg`` and ``out/gallery.csv`` (product_id, image_path, shot, ...).

    ``style_id`` is the source photo's group, so grouped CV keeps a crop in the fold of the real
    photo it was cut from.
    """
    unknown = sorted(set(classes) - set(GENERATORS))
    if unknown:
        raise ConfigError(f"no generator for {', '.join(unknown)}; valid: {', '.join(CLASSES)}")
    rows = []
    for cls in classes:
        (out / "images" / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            s = generate_one(cls, pool, seed, i, long_side)
            rel = f"images/{cls}/{cls}_{i:05d}.jpg"
            s.image.save(out / rel, "JPEG", quality=95)
            group = s.group if s.group != "-" else f"synth-{cls}-{i}"
            rows.append([f"synth-{seed}-{cls}-{i:05d}", rel, cls, group, s.source])
            if progress:
                progress(1)
    csv_path = out / "gallery.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        w.writerows(rows)
    log.info("wrote %d generated images to %s", len(rows), out)
    return csv_path


def contact_sheets(
    gallery_csv: Path, out_dir: Path, per_sheet: int = 12, cols: int = 4, thumb: int = 128
) -> list[Path]:
    """One PNG grid per class of a generated set (the first ``per_sheet`` images)."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    with gallery_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[Path]] = {}
    for r in rows:
        by_class.setdefault(r["shot"], []).append(gallery_csv.parent / r["image_path"])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for cls, paths in by_class.items():
        paths = paths[:per_sheet]
        n_rows = -(-len(paths) // cols)
        sheet = PILImage.new("RGB", (cols * (thumb + 4) + 4, n_rows * (thumb + 4) + 4), "white")
        for k, p in enumerate(paths):
            with PILImage.open(p) as im:
                t = ImageOps.pad(im.convert("RGB"), (thumb, thumb), color=(255, 255, 255))
            sheet.paste(t, (4 + (k % cols) * (thumb + 4), 4 + (k // cols) * (thumb + 4)))
        path = out_dir / f"{cls}.png"
        sheet.save(path, optimize=True)
        written.append(path)
    return written


def overview_sheet(gallery_csv: Path, path: Path, per_class: int = 6, thumb: int = 88) -> Path:
    """One row per class (its name on the left), colour-quantised so it stays small for docs."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont, ImageOps

    from modiste.training.synth.text import font_paths

    with gallery_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[Path]] = {}
    for r in rows:
        by_class.setdefault(r["shot"], []).append(gallery_csv.parent / r["image_path"])
    label_w, cell = 96, thumb + 4
    sheet = PILImage.new("RGB", (label_w + per_class * cell, len(by_class) * cell + 4), "white")
    d = ImageDraw.Draw(sheet)
    face = ImageFont.truetype(str(font_paths()[0]), 13)
    for n, (cls, paths) in enumerate(by_class.items()):
        d.text((6, n * cell + cell // 2), cls, fill=(0, 0, 0), font=face, anchor="lm")
        for k, p in enumerate(paths[:per_class]):
            with PILImage.open(p) as im:
                t = ImageOps.pad(im.convert("RGB"), (thumb, thumb), color=(255, 255, 255))
            sheet.paste(t, (label_w + k * cell, 4 + n * cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=128, dither=PILImage.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    return path
