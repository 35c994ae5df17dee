"""What a channel's rules are checked against: measurements of one image, from pixels and bytes.

Pixels are analysed on a small copy (the long side at ``WORK_SIDE``): the background is the
colour of the outer frame, the product is the largest foreground blob (with the blobs big enough
to be other parts of it, such as a second shoe), and any other blob is a *mark* (text, a badge,
a logo) that only a text detector can name. Only where text is matters, not what it says, so
the text rule runs RapidOCR's detection model alone, on a copy with its long side at
``OCR_SIDE``, and on a plain background only in the regions around the marks; it runs only where
overlay text can be: when marks lie beside the product or the background is not plain. Text
inside the product's body (its convex hull) is printed on the garment and is not overlay.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from modiste.domain import Box
from modiste.errors import ImageDecodeError, ModelError
from modiste.imaging.decode import DEFAULT_MAX_PIXELS, decode_image
from modiste.imaging.hashes import ImageFingerprint, fingerprint_image

if TYPE_CHECKING:
    from PIL import Image

    from modiste.models.ocr import OcrLine

log = logging.getLogger(__name__)

WORK_SIDE = 384  # long side of the copy the pixel measures use
FG_TOL = 24  # a pixel this far (max channel) from the background colour is foreground
PLAIN_TOL = 12  # border pixels this close to their median make a plain background
PLAIN_SHARE = 0.9  # ...when this share of them is that close
PART_SHARE = 0.15  # a blob this large next to the largest one is part of the product
MARK_MIN_AREA = 0.0004  # smaller blobs (share of the frame) are noise, not marks
INSIDE_SHARE = 0.7  # a text line this much inside the product's body is printed on it
OCR_SIDE = 512  # long side the text detector sees (640: text P 0.976 R 0.952, 20 % slower)
CHAR_ASPECT = 0.6  # a detected line holds about width / (height * this) characters
REGION_PAD = 0.1  # margin (share of the frame's height) above and below a mark's strip
MIN_WORD_SCORE = 0.5  # a detected line read with less confidence holds no word
BADGE_TOL = 30  # colour distance within one badge's block
BADGE_MAX_SHARE = 0.2  # a block this large next to the product box is the garment, not a badge
BAND_ROW, BAND_SOLID, BAND_MAX = 0.6, 0.97, 0.25  # an edge band: rows this full, enough solid


@dataclass(frozen=True, slots=True)
class ImageInput:
    """One photo to check, with what the catalog already knows about it (all optional)."""

    key: str
    path: Path | None = None
    data: bytes | None = None
    label: str | None = None  # shot class
    confidence: float = 0.0
    position: int = 0
    fingerprint: ImageFingerprint | None = None
    garment_box: Box | None = None  # as fractions of the frame (0-1), from the detector
    width: int | None = None
    height: int | None = None
    file_bytes: int | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class PixelFacts:
    """Background and product measured on the work copy; boxes as fractions of the frame."""

    plain: bool  # the border is one colour
    border_color: tuple[int, int, int]  # median of the outer frame outside the product
    background: np.ndarray = field(repr=False)  # Nx3 border pixels outside the product
    product_box: Box | None  # None: nothing stands out from the background
    marks: tuple[Box, ...]  # blobs that are not the product (text? badge?)
    mask: np.ndarray = field(repr=False)  # HxW bool: the convex hull of the product's body
    size: tuple[int, int]  # work copy (width, height)
    work: np.ndarray = field(repr=False)  # the work copy (RGB), for the badge test
    fg: np.ndarray = field(repr=False)  # HxW bool: pixels that stand out from the background

    def share_near(self, color: tuple[int, int, int] | None, tolerance: float) -> float:
        """Share of the background pixels within ``tolerance`` (max channel) of ``color``
        (``None``: of their own median, for "any plain colour")."""
        if len(self.background) == 0:
            return 0.0
        ref = np.array(color if color is not None else self.border_color, dtype=np.int16)
        return float((_max_channel_gap(self.background, ref) <= tolerance).mean())

    @property
    def fill(self) -> float | None:
        """How much of the frame the product spans along its longer side (0-1)."""
        if self.product_box is None:
            return None
        return max(self.product_box.width, self.product_box.height)


@dataclass(frozen=True, slots=True)
class TextFacts:
    """Overlay text found (``lines``), or why it could not be looked for (``unavailable``)."""

    lines: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    printed: tuple[str, ...] = ()  # text inside the product: printed on it, allowed
    ran_ocr: bool = False
    chars: int = 0  # overlay characters: counted when read, estimated from boxes when detected
    unavailable: str | None = None


@dataclass
class ImageFacts:
    """Everything the rules read about one image; ``error`` set when it could not be read."""

    input: ImageInput
    width: int = 0
    height: int = 0
    file_bytes: int = 0
    format: str = ""
    fingerprint: ImageFingerprint | None = None
    pixels: PixelFacts | None = None
    error: str | None = None
    _data: bytes | None = field(default=None, repr=False)
    _text: TextFacts | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return self.input.key

    def text(
        self, ocr: OcrLike | None, *, max_pixels: int = DEFAULT_MAX_PIXELS, force: bool = False
    ) -> TextFacts:
        """Overlay text (computed once, on demand: only text rules need it). ``force`` runs OCR
        even where no mark suggests text (the benchmark uses it to test the printed-text logic
        on every photo)."""
        if self._text is None:
            self._text = _find_text(self, ocr, max_pixels, force)
        return self._text


class OcrLike(Protocol):
    """What :class:`modiste.models.ocr.OcrReader` offers; tests pass a stub. ``regions`` (boxes
    in the image's pixels) says where to look; lines may come back with empty ``text`` (a
    detection-only reader)."""

    def read(self, image: Image.Image, regions: Sequence[Box] | None = None) -> list[OcrLine]: ...


OcrFactory = Callable[[], OcrLike]


def measure_image(
    item: ImageInput,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    with_fingerprint: bool = True,
) -> ImageFacts:
    """Read, decode (small) and measure one image; a bad file comes back with ``error`` set."""
    facts = ImageFacts(item)
    if item.data is None and item.path is None:
        facts.error = "no file and no bytes given"
        return facts
    try:
        data = item.data if item.data is not None else Path(item.path or "").read_bytes()
    except OSError as e:
        facts.error = f"cannot read ({e.strerror or e})"
        return facts
    try:
        decoded = decode_image(data, max_pixels=max_pixels, draft_size=WORK_SIDE, name=item.key)
    except ImageDecodeError as e:
        facts.error = str(e)
        return facts
    facts._data = data
    facts.width = item.width or decoded.width
    facts.height = item.height or decoded.height
    facts.file_bytes = item.file_bytes or len(data)
    facts.format = (item.format or decoded.format or "").lower()
    rgb = _work_copy(np.asarray(decoded.image.convert("RGB"), dtype=np.uint8))
    facts.pixels = analyse_pixels(rgb, item.garment_box)
    facts.fingerprint = item.fingerprint
    if facts.fingerprint is None and with_fingerprint:
        facts.fingerprint = fingerprint_image(rgb, sha256=hashlib.sha256(data).hexdigest())
    return facts


def _work_copy(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = WORK_SIDE / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Linear, not area: a few times faster, and blobs and borders do not need the smoothing.
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def analyse_pixels(rgb: np.ndarray, garment_box: Box | None = None) -> PixelFacts:
    """Background colour and plainness, the product's box and outline, and other marks.

    ``garment_box`` (fractions) stands in for the product when the background is not plain,
    where blobs cannot be told from the scene.
    """
    import cv2

    h, w = rgb.shape[:2]
    t = max(2, round(0.02 * min(h, w)))
    ring = np.zeros((h, w), dtype=bool)
    ring[:t], ring[-t:], ring[:, :t], ring[:, -t:] = True, True, True, True
    ref = np.median(rgb[ring], axis=0)
    dist = cv2.absdiff(rgb, (*(float(v) for v in ref), 0.0))  # type: ignore[call-overload]
    far = np.maximum(np.maximum(dist[:, :, 0], dist[:, :, 1]), dist[:, :, 2])
    fg = (far > FG_TOL).astype(np.uint8)
    fg, bands = _edge_bands(fg)
    k = max(3, round(0.015 * max(h, w)) | 1)
    closed = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    comps = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= MARK_MIN_AREA * h * w]
    comps.sort(key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    parts = [i for i in comps if stats[i, cv2.CC_STAT_AREA] >= PART_SHARE * stats[comps[0], 4]]
    marks = [i for i in comps if i not in parts]

    def box(i: int) -> Box:
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        return Box(x / w, y / h, (x + bw) / w, (y + bh) / h)

    mask = np.zeros((h, w), dtype=np.uint8)
    product: Box | None = None
    extra: list[Box] = list(bands)
    if parts:
        outline = ((labels == parts[0]) if len(parts) == 1 else np.isin(labels, parts)).astype(
            np.uint8
        )
        boxes = [box(i) for i in parts]
        product = Box(
            min(b.x1 for b in boxes), min(b.y1 for b in boxes),
            max(b.x2 for b in boxes), max(b.y2 for b in boxes),
        )  # fmt: skip
        # The garment's body survives an opening; a banner or caption touching it does not.
        # Opened before the closing merged letters into blocks: glyph strokes are thin.
        k2 = max(3, round(0.03 * max(h, w)) | 1)
        body = cv2.morphologyEx(outline & fg, cv2.MORPH_OPEN, np.ones((k2, k2), np.uint8))
        if not body.any():
            body = outline
        # Its convex hull, not its outline: a white T-shirt on white leaves only scraps of
        # outline around its print, and the print must still count as on the garment.
        contours, _ = cv2.findContours(body, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.convexHull(np.concatenate(contours))
        cv2.fillConvexPoly(mask, hull, 1)
        extra += _protrusions(outline, mask, h, w)
    # The background is the ring outside the product (a model cut off at the hem touches it).
    outside = ring & ~_box_mask(product, h, w, pad=1) if product else ring
    if outside.sum() < 0.25 * ring.sum():
        outside = ring
    background = rgb[outside]  # bands included: a strip along the edge is not white backdrop
    scene = outside & ~_boxes_mask(bands, h, w)  # ...but a scene is judged without them
    border = np.median(rgb[scene] if scene.any() else background, axis=0)
    near = _max_channel_gap(rgb[scene] if scene.any() else background, border.astype(np.int16))
    plain = bool((near <= PLAIN_TOL).mean() >= PLAIN_SHARE)
    if not plain:  # blobs of a scene mean nothing: trust the detector's box, if any
        product, marks, extra = garment_box, [], []
        mask = _box_mask(garment_box, h, w).astype(np.uint8) if garment_box else mask * 0
    return PixelFacts(
        plain=plain,
        border_color=(int(border[0]), int(border[1]), int(border[2])),
        background=background,
        product_box=product,
        marks=(*(box(i) for i in marks), *extra),
        mask=mask.astype(bool),
        size=(w, h),
        work=rgb,
        fg=fg.astype(bool),
    )


def _edge_bands(fg: np.ndarray) -> tuple[np.ndarray, list[Box]]:
    """Bands across the frame at an edge (a "free shipping" strip, a border): foreground rows
    (or columns) from the edge, most of them solid. They are marks, not the product, so they
    neither stretch the product's box nor hide the background they cover. Returns the
    foreground without them, and their boxes."""
    h, w = fg.shape
    fg = fg.copy()
    bands: list[Box] = []
    for axis, size in ((1, h), (0, w)):
        share = fg.mean(axis=axis)
        for from_end in (False, True):
            seq = share[::-1] if from_end else share
            run = 0
            while run < len(seq) and seq[run] >= BAND_ROW and run < BAND_MAX * size:
                run += 1
            if run < 2 or (seq[:run] >= BAND_SOLID).mean() < 0.3:
                continue
            lo, hi = (size - run, size) if from_end else (0, run)
            if axis == 1:
                fg[lo:hi] = 0
                bands.append(Box(0.0, lo / h, 1.0, hi / h))
            else:
                fg[:, lo:hi] = 0
                bands.append(Box(lo / w, 0.0, hi / w, 1.0))
    return fg, bands


def _protrusions(outline: np.ndarray, body: np.ndarray, h: int, w: int) -> list[Box]:
    """Thin pieces of the product blob sticking out past its body's box: a caption or banner
    touching the garment, or a strap; OCR tells which."""
    import cv2

    x, y, bw, bh = cv2.boundingRect(body)
    if bw == 0 or bh == 0:
        return []
    inside = np.zeros((h, w), dtype=bool)
    inside[y : y + bh + 1, x : x + bw + 1] = True
    thin = (outline.astype(bool) & ~inside).astype(np.uint8)
    if not thin.any():
        return []
    n, _, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
    return [
        Box(x / w, y / h, (x + bw) / w, (y + bh) / h)
        for x, y, bw, bh, area in (stats[i] for i in range(1, n))
        if area >= MARK_MIN_AREA * h * w
    ]


def _boxes_mask(boxes: list[Box], h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    for b in boxes:
        m |= _box_mask(b, h, w)
    return m


def _max_channel_gap(pixels: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per pixel (Nx3), the largest channel difference from ``ref`` (numpy's max over a
    3-wide axis is slow; three elementwise maxima are not)."""
    d = np.abs(pixels.astype(np.int16) - ref)
    return np.maximum(np.maximum(d[:, 0], d[:, 1]), d[:, 2])


def _box_mask(b: Box | None, h: int, w: int, pad: int = 0) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    if b is not None:
        x1, y1 = max(0, int(b.x1 * w) - pad), max(0, int(b.y1 * h) - pad)
        x2, y2 = min(w, int(np.ceil(b.x2 * w)) + pad), min(h, int(np.ceil(b.y2 * h)) + pad)
        m[y1:y2, x1:x2] = True
    return m


def _find_text(
    facts: ImageFacts, ocr: OcrLike | None, max_pixels: int, force: bool = False
) -> TextFacts:
    px = facts.pixels
    if px is None:
        return TextFacts(unavailable="the image could not be read")
    if px.plain and not px.marks and not force:
        # Overlay text on a plain background would be a blob of its own beside the product.
        return TextFacts()
    if ocr is None:
        return TextFacts(unavailable="OCR is not installed (pip install rapidocr-onnxruntime)")
    try:
        image = _ocr_copy(
            decode_image(
                facts._data or b"", max_pixels=max_pixels, draft_size=OCR_SIDE, name=facts.key
            ).image
        )
        W, H = image.size
        regions = None if force or not px.plain else _regions(px.marks, W, H)
        lines = ocr.read(image, regions)
    except (ModelError, ImageDecodeError) as e:
        return TextFacts(unavailable=f"OCR could not run ({e})", ran_ocr=True)
    outside: list[OcrLine] = []
    printed = []
    for line in lines:
        b = Box(line.box.x1 / W, line.box.y1 / H, line.box.x2 / W, line.box.y2 / H)
        if _is_printed(b, px):
            printed.append(line.text)
        else:
            outside.append(line)
    try:
        outside = _confirmed(ocr, image, outside)
    except ModelError as e:
        return TextFacts(unavailable=f"OCR could not run ({e})", ran_ocr=True)
    overlay = tuple(line.text for line in outside)
    boxes = tuple(Box(x.box.x1 / W, x.box.y1 / H, x.box.x2 / W, x.box.y2 / H) for x in outside)
    chars = sum(len(x.text.strip()) or _chars_in(x.box) for x in outside)
    return TextFacts(overlay, boxes, tuple(printed), ran_ocr=True, chars=chars)


def _confirmed(ocr: OcrLike, image: Image.Image, lines: list[OcrLine]) -> list[OcrLine]:
    """Detected (unread) lines outside the product, read: the detector alone also takes a
    pattern or a fold for a line, and reading a few lines costs little next to reading the
    photo. Lines that hold no word are dropped; a reader that cannot read keeps them all."""
    unread = [x for x in lines if not x.text.strip()]
    words = getattr(ocr, "words", None)
    if not unread or words is None:
        return lines
    read = dict(zip((id(x) for x in unread), words(image, [x.box for x in unread]), strict=True))
    out = []
    for x in lines:
        if id(x) not in read:
            out.append(x)
        elif read[id(x)][0].strip() and read[id(x)][1] >= MIN_WORD_SCORE:
            out.append(x._replace(text=read[id(x)][0]))
    return out


def _ocr_copy(image: Image.Image) -> Image.Image:
    """The photo in RGB with its long side at most ``OCR_SIDE``, made once for both the
    detector and the reading of its lines (a reader at that size does not resize again)."""
    import cv2
    from PIL import Image

    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    scale = OCR_SIDE / max(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return Image.fromarray(rgb)


def _regions(marks: Sequence[Box], w: int, h: int) -> list[Box]:
    """Where overlay text can be on a plain background, in the image's pixels: a strip across
    the frame over each mark (a blob beside the product, a piece sticking out of it, an edge
    band), overlapping strips merged. Full width and a margin above and below, because a mark
    is often only a sliver of a badge or word merged with the product's edge, and text runs
    sideways from it (a word that fills its crop is not detected: the model needs some margin)."""
    spans: list[tuple[float, float]] = []
    for m in sorted(marks, key=lambda m: m.y1):
        pad = REGION_PAD * h + 0.5 * (m.y2 - m.y1) * h
        y1, y2 = max(0.0, m.y1 * h - pad), min(float(h), m.y2 * h + pad)
        if spans and y1 <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], y2))
        else:
            spans.append((y1, y2))
    return [Box(0.0, y1, float(w), y2) for y1, y2 in spans]


def _chars_in(box: Box) -> int:
    """Characters a detected (unread) line holds, from its shape: glyphs are about
    ``CHAR_ASPECT`` of the line's height wide; a vertical line counts the other way."""
    long, short = max(box.width, box.height), max(1e-6, min(box.width, box.height))
    return max(1, round(long / (short * CHAR_ASPECT)))


def _is_printed(b: Box, px: PixelFacts) -> bool:
    """Text on the garment: mostly inside the product's filled outline, and not a banner
    across the frame (a watermark over the product)."""
    if b.width > 0.6:
        return False
    w, h = px.size
    if not px.mask.any():
        # No outline (scene without a detector box): text at the frame's edge is overlay.
        edge = 0.1
        return b.x1 > edge and b.y1 > edge and b.x2 < 1 - edge and b.y2 < 1 - edge
    m = _box_mask(b, h, w)
    area = int(m.sum())
    if area == 0 or float((m & px.mask).sum()) / area < INSIDE_SHARE:
        return False
    return not _on_a_badge(b, px)


def _on_a_badge(b: Box, px: PixelFacts) -> bool:
    """Text inside the product's hull that sits on a small block of its own colour which also
    touches the background beyond the hull: a badge or sticker laid over the product's edge.
    Printed text sits on the garment (a large block) or on a patch surrounded by it."""
    import cv2

    w, h = px.size
    pad = max(2.0, 0.5 * b.height * h)
    x1, y1 = max(0, int(b.x1 * w - pad)), max(0, int(b.y1 * h - pad))
    x2, y2 = min(w, int(b.x2 * w + pad) + 1), min(h, int(b.y2 * h + pad) + 1)
    ring = np.zeros((h, w), dtype=bool)
    ring[y1:y2, x1:x2] = True
    ring &= ~_box_mask(b, h, w)
    if not ring.any() or px.product_box is None:
        return False
    color = np.median(px.work[ring], axis=0).astype(np.int16)
    gap = _max_channel_gap(px.work.reshape(-1, 3), color).reshape(h, w)
    same = (gap <= BADGE_TOL).astype(np.uint8)
    _, labels = cv2.connectedComponents(same, connectivity=4)
    seeds = np.unique(labels[ring & (same > 0)])
    block = np.isin(labels, seeds[seeds > 0])
    pb = px.product_box
    product_area = max(1.0, pb.width * w * pb.height * h)
    if block.sum() >= BADGE_MAX_SHARE * product_area:
        return False  # the garment itself (or a white garment run into a white backdrop)
    # Background beyond the product's hull: a white garment's own pixels, inside the hull, do
    # not count (its print is surrounded by them).
    beyond = ~px.mask & ~px.fg
    touch = cv2.dilate(block.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return bool((touch & beyond).any())


def default_ocr() -> OcrLike | None:
    """The text detector when the OCR package is installed (detection only: the rules need
    where text is, not its words); without it text rules say "not checked"."""
    import importlib.util

    if importlib.util.find_spec("rapidocr_onnxruntime") is None:
        return None
    from modiste.models.ocr import OcrReader

    # One thread per model: the inputs are small (strips, a few lines), and on a small shared
    # CPU ONNX Runtime's spinning pool cost 1.4-2.4x the time (benchmarks/README.md).
    return OcrReader(max_side=OCR_SIDE, recognize=False, threads=1)
