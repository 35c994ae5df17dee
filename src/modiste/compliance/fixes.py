"""Safe automatic fixes for a channel's image rules, applied to copies of the photos.

A fix may add background around the product or take background away, and re-encode the file;
it never resamples the product up, never touches a pixel that is not background (the product's
box is copied 1:1), and downscales only when the caller allows it. What cannot be fixed that way
(a coloured background under the product, overlay text, a photo too small, a missing shot, a
duplicate) is not guessed at: it goes to a "needs a person" list with what to do (new photo,
retouch). See ``docs/decisions/compliance-profiles.md`` ("Export and fixes").
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from modiste.compliance.profiles import Profile
from modiste.imaging.decode import DEFAULT_MAX_PIXELS, decode_image

WHITE = (255, 255, 255)
# A border this uniform is a backdrop we can extend; below it, padding would show a seam.
BORDER_SHARE = 0.97
# JPEG noise on a white backdrop stays below this; a pixel further off counts as product.
BOX_TOLERANCE = 12
JPEG_QUALITIES = (95, 90, 85, 80, 75, 70, 65, 60)
DOWNSCALE_STEP = 0.85
_LOSSY = ("JPEG", "WEBP")
_SAVE_FORMAT = {"JPG": "JPEG", "JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}
SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}

NEW_PHOTO, RETOUCH, CHOOSE = "new photo", "retouch", "choose photos"
# Rules a fix never touches, and what a person does about each.
PERSON_ACTIONS: dict[str, tuple[str, str]] = {
    "background": (RETOUCH, "cut the product out onto the channel's background, or reshoot"),
    "text": (RETOUCH, "remove the overlay text, badge or watermark, or use another photo"),
    "min_size": (NEW_PHOTO, "the original has too few pixels: upload a larger photo"),
    "duplicate": (CHOOSE, "the same picture is in the gallery twice: replace or remove one"),
    "required_shot": (NEW_PHOTO, "the channel requires a shot the gallery does not have"),
    "main_shot": (CHOOSE, "the first photo must be one of the shots the channel accepts first"),
    "max_images": (CHOOSE, "the gallery has more photos than the channel takes"),
    "fill": (NEW_PHOTO, "reshoot with the product framed as the channel asks"),
    "aspect": (RETOUCH, "crop to the channel's aspect ratio, or reshoot"),
}


@dataclass(frozen=True, slots=True)
class FixTarget:
    """What one image must meet, in the units fixes work in (taken from a profile's rules).

    ``fill`` is the product's share of the frame on its limiting side, ``max(box_w / W,
    box_h / H)``, the same measure the checker reports.
    """

    aspect: float | None = None  # width / height
    aspect_tolerance: float = 0.01  # relative
    background: tuple[int, int, int] | None = None  # None: extend the photo's own backdrop
    background_tolerance: int = 8  # per channel, 0-255
    background_share: float = BORDER_SHARE  # of the border that must be the backdrop colour
    fill_min: float | None = None
    fill_max: float | None = None
    min_width: int = 0
    min_height: int = 0
    min_long_side: int = 0
    max_bytes: int | None = None
    formats: tuple[str, ...] = ()  # allowed, lower case (jpeg, png...); empty: any
    allow_downscale: bool = False


@dataclass(frozen=True, slots=True)
class Fix:
    """One thing done to a copy: the rule it answers and what was done, in words."""

    rule: str
    action: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action}


@dataclass(frozen=True, slots=True)
class NeedsPerson:
    """A fault no safe fix can mend: ``action`` is new photo, retouch or choose photos."""

    rule: str
    action: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action, "reason": self.reason}


@dataclass
class FixedImage:
    """The copy to publish (the original bytes when nothing needed doing) and the record."""

    data: bytes
    format: str
    width: int
    height: int
    fixes: list[Fix] = field(default_factory=list)
    needs: list[NeedsPerson] = field(default_factory=list)
    # Where the copy's frame lies in the original's pixels (x0, y0, x1, y1; it may reach
    # outside them), when it was reframed: the original's pixel (x, y) is the copy's
    # (x - x0, y - y0) unless it was downscaled afterwards.
    frame: tuple[int, int, int, int] | None = None
    downscaled: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.fixes)

    @property
    def suffix(self) -> str:
        return SUFFIX.get(self.format, "." + self.format.lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
            "fixes": [f.to_dict() for f in self.fixes],
            "needs_person": [n.to_dict() for n in self.needs],
        }


def target_for(
    profile: Profile, label: str | None, is_main: bool, *, allow_downscale: bool = False
) -> FixTarget:
    """The limits of every rule of ``profile`` that applies to this image, in one target.

    Two rules of one kind both hold: the stricter bound of each wins.
    """
    v: dict[str, Any] = {"allow_downscale": allow_downscale}
    for rule in profile.rules:
        if not rule.applies(label, is_main):
            continue
        p = rule.params
        if rule.kind == "background":
            v["background"] = p.get("color")
            v["background_tolerance"] = int(p["tolerance"])
            v["background_share"] = float(p["min_share"])
        elif rule.kind == "fill":
            if "min" in p:
                v["fill_min"] = max(float(p["min"]), v.get("fill_min", 0.0))
            if "max" in p:
                v["fill_max"] = min(float(p["max"]), v.get("fill_max", 1.0))
        elif rule.kind == "min_size":
            for key in ("long_side", "width", "height"):
                v[f"min_{key}"] = max(int(p.get(key, 0)), v.get(f"min_{key}", 0))
        elif rule.kind == "aspect":
            v.update(aspect=float(p["ratio"]), aspect_tolerance=float(p["tolerance"]))
        elif rule.kind == "max_bytes":
            v["max_bytes"] = min(int(p["bytes"]), v.get("max_bytes", 10**12))
        elif rule.kind == "format":
            v["formats"] = tuple(p["allowed"])
    return FixTarget(**v)


def needs_person(rule: str, detail: str = "") -> NeedsPerson:
    """The entry for a violation of ``rule`` that fixes leave alone."""
    action, hint = PERSON_ACTIONS.get(rule, (RETOUCH, "check this photo by hand"))
    return NeedsPerson(rule, action, f"{detail}: {hint}" if detail else hint)


# --- measuring --------------------------------------------------------------------------------


def _close(pixels: np.ndarray, colour: Sequence[int], tolerance: int) -> np.ndarray:
    diff = np.abs(pixels.astype(np.int16) - np.asarray(colour, dtype=np.int16))
    return np.asarray(diff.max(axis=-1) <= tolerance)


EDGES = ("left", "top", "right", "bottom")


def _edges(arr: np.ndarray) -> list[np.ndarray]:
    """The four border strips (left, top, right, bottom), a hundredth of the short side deep."""
    h, w = arr.shape[:2]
    band = max(1, min(h, w) // 100)
    strips = (arr[:, :band], arr[:band], arr[:, -band:], arr[-band:])
    return [s.reshape(-1, 3) for s in strips]


@dataclass(frozen=True, slots=True)
class Backdrop:
    """The colour to extend a photo with, and the edges the product runs off (a model cut at
    the waist): the frame is never extended there, which would show the cut."""

    colour: tuple[int, int, int]
    touched: tuple[bool, bool, bool, bool]  # left, top, right, bottom

    def touched_names(self) -> str:
        return " and ".join(n for n, t in zip(EDGES, self.touched, strict=True) if t)


def backdrop(arr: np.ndarray, target: FixTarget) -> Backdrop | None:
    """The photo's backdrop, or None when fewer than two edges are one plain colour.

    With a background rule the edges must be that colour; without one, any plain backdrop
    (a grey studio wall) is extended in its own colour.
    """
    edges = _edges(arr)
    if target.background is not None:
        colour = target.background
    else:
        border = np.concatenate(edges)
        colour = tuple(int(v) for v in np.median(border, axis=0))  # type: ignore[assignment]
    tol = target.background_tolerance
    clear = [float(_close(e, colour, tol).mean()) >= target.background_share for e in edges]
    if sum(clear) < 2:
        return None
    return Backdrop(colour, (not clear[0], not clear[1], not clear[2], not clear[3]))


def product_box(
    arr: np.ndarray, colour: Sequence[int], tolerance: int
) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` around every pixel that is not background, or None if all is.

    Strict on purpose: any pixel beyond the tolerance counts as product, so trimming outside
    this box removes background only.
    """
    fg = ~_close(arr, colour, tolerance)
    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def fill_of(box: tuple[int, int, int, int], width: int, height: int) -> float:
    return max((box[2] - box[0]) / width, (box[3] - box[1]) / height)


# --- reframing --------------------------------------------------------------------------------


def _aspect_ok(w: int, h: int, target: FixTarget) -> bool:
    if target.aspect is None:
        return True
    return abs(w / h - target.aspect) <= target.aspect * target.aspect_tolerance


def _size_ok(w: int, h: int, target: FixTarget) -> bool:
    return w >= target.min_width and h >= target.min_height and max(w, h) >= target.min_long_side


def _grow_to_aspect(w: float, h: float, aspect: float | None) -> tuple[float, float]:
    if aspect is None:
        return w, h
    return (h * aspect, h) if w / h < aspect else (w, w / aspect)


def _grow_to_min(w: float, h: float, target: FixTarget) -> tuple[float, float]:
    scale = max(1.0, target.min_width / w, target.min_height / h, target.min_long_side / max(w, h))
    return w * scale, h * scale


def _fill_goal(fill: float, target: FixTarget) -> float | None:
    """The fill to reframe to (just inside the violated bound), or None when it is fine."""
    lo, hi = target.fill_min, target.fill_max
    margin = min(0.02, ((hi or 1.0) - (lo or 0.0)) / 2)
    if lo is not None and fill < lo:
        return min(lo + margin, 1.0)
    if hi is not None and fill > hi:
        return hi - margin
    return None


def _has_fill_rule(target: FixTarget) -> bool:
    return target.fill_min is not None or target.fill_max is not None


def _place(
    length: int, new: int, lo: int, hi: int, centre: float, touch_lo: bool, touch_hi: bool
) -> int | None:
    """Where a frame of ``new`` pixels starts on an axis of ``length``: around ``centre``,
    holding the product's span ``[lo, hi)``, never extended past an edge the product runs
    off; None when that cannot be."""
    start = min(max(round(centre - new / 2), hi - new), lo)
    if touch_lo:
        start = max(start, 0)
    if touch_hi:
        start = min(start, length - new)
    if start > lo or start + new < hi or (touch_lo and start < 0):
        return None
    if touch_hi and start + new > length:
        return None
    return start


def _canvas(
    size: tuple[int, int], box: tuple[int, int, int, int], target: FixTarget, back: Backdrop
) -> tuple[int, int, int, int] | None:
    """The new frame in the original's coordinates (it may reach outside the photo), or None
    when only extending an edge the product runs off would reach the target.

    Without a fill rule the whole photo is kept and background added for the aspect ratio;
    with one, the frame is drawn around the product so it fills the goal. The frame then grows
    to the minimum size only where the fill rule still holds: a small photo is never padded
    into a large one that would pass the size rule.
    """
    width, height = size
    aspect = target.aspect or width / height
    goal = _fill_goal(fill_of(box, width, height), target)
    bw, bh = box[2] - box[0], box[3] - box[1]
    if goal is None and not (_has_fill_rule(target) and not _size_ok(width, height, target)):
        cx, cy = width / 2, height / 2
        w, h = _grow_to_aspect(width, height, target.aspect)
    else:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        goal = goal or fill_of(box, width, height)
        w, h = _grow_to_aspect(bw / goal, bh / goal, aspect)
    sizes = [(w, h)]
    if _has_fill_rule(target):
        gw, gh = _grow_to_min(w, h, target)
        if max(bw / gw, bh / gh) >= (target.fill_min or 0.0):
            sizes.insert(0, (gw, gh))  # grown first; unless a cut edge forbids it
    left, top, right, bottom = back.touched
    for fw, fh in sizes:
        nw, nh = max(round(fw), bw), max(round(fh), bh)
        x0 = _place(width, nw, box[0], box[2], cx, left, right)
        y0 = _place(height, nh, box[1], box[3], cy, top, bottom)
        if x0 is not None and y0 is not None:
            return x0, y0, x0 + nw, y0 + nh
    return None


def reframe(
    img: Image.Image, frame: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> Image.Image:
    """``img`` cut or extended to ``frame``: kept pixels are copied as they are."""
    x0, y0, x1, y1 = frame
    out = Image.new("RGB", (x1 - x0, y1 - y0), colour)
    src = (max(x0, 0), max(y0, 0), min(x1, img.width), min(y1, img.height))
    out.paste(img.crop(src), (src[0] - x0, src[1] - y0))
    return out


# --- encoding ---------------------------------------------------------------------------------


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt in _LOSSY:
        img.save(buf, format=fmt, quality=quality, optimize=fmt == "JPEG")
    else:
        img.save(buf, format=fmt, optimize=True)
    return buf.getvalue()


def _within_bytes(
    img: Image.Image, fmt: str, target: FixTarget
) -> tuple[bytes, Image.Image, list[Fix]]:
    """The first encoding that fits ``max_bytes``: best quality first, then smaller sizes."""
    limit = target.max_bytes
    qualities = JPEG_QUALITIES if fmt in _LOSSY else (0,)
    data = _encode(img, fmt, qualities[0])
    if limit is None or len(data) <= limit:
        return data, img, []
    for q in qualities[1:]:
        data = _encode(img, fmt, q)
        if len(data) <= limit:
            return data, img, [Fix("max_bytes", f"re-encoded at quality {q} ({len(data)} bytes)")]
    if not target.allow_downscale:
        return data, img, []
    small, q = img, qualities[len(qualities) // 2]
    while True:
        w, h = round(small.width * DOWNSCALE_STEP), round(small.height * DOWNSCALE_STEP)
        if not _size_ok(w, h, target) or min(w, h) < 1:
            return data, img, []
        small = img.resize((w, h), Image.Resampling.LANCZOS)
        data = _encode(small, fmt, q)
        if len(data) <= limit:
            done = f"downscaled to {w}x{h} and re-encoded at quality {q} ({len(data)} bytes)"
            return data, small, [Fix("max_bytes", done)]


def _output_format(src_format: str, allowed: Sequence[str]) -> str:
    """The original's format when the channel takes it and Modiste writes it, else the first
    allowed one Modiste writes (JPEG when none is)."""
    ok = [_SAVE_FORMAT[f.upper()] for f in allowed if f.upper() in _SAVE_FORMAT]
    if src_format in _SAVE_FORMAT.values() and (not allowed or src_format in ok):
        return src_format
    return ok[0] if ok else "JPEG"


def _reframed(
    img: Image.Image, box: tuple[int, int, int, int], back: Backdrop, target: FixTarget
) -> tuple[Image.Image, list[Fix], list[NeedsPerson], tuple[int, int, int, int] | None]:
    """``img`` cut or extended to the frame ``target`` asks for, the fixes in words, what
    needs a person, and the frame."""
    frame = _canvas(img.size, box, target, back)
    if frame is None:
        rule = "fill" if _has_fill_rule(target) else "aspect"
        why = f"the product runs off the frame at the {back.touched_names()}"
        return img, [], [needs_person(rule, why)], None
    colour = back.colour
    out = reframe(img, frame, colour)
    hexa = "#{:02X}{:02X}{:02X}".format(*colour)
    fixes: list[Fix] = []
    if (frame[2] - frame[0], frame[3] - frame[1]) != img.size:
        trimmed = frame[0] > 0 or frame[1] > 0 or frame[2] < img.width or frame[3] < img.height
        added = frame[0] < 0 or frame[1] < 0 or frame[2] > img.width or frame[3] > img.height
        what = " and ".join(w for w, on in (("trimmed", trimmed), ("added", added)) if on)
        moved = (box[0] - frame[0], box[1] - frame[1], box[2] - frame[0], box[3] - frame[1])
        fill = fill_of(moved, out.width, out.height)
        rule = "fill" if _has_fill_rule(target) else "aspect"
        sizes = f"{img.width}x{img.height} -> {out.width}x{out.height}"
        fixes.append(Fix(rule, f"{what} {hexa} background: {sizes}, the product fills {fill:.0%}"))
        if rule == "fill" and target.aspect is not None and not _aspect_ok(*img.size, target):
            ratio = out.width / out.height
            fixes.append(Fix("aspect", f"framed to {out.width}x{out.height} (w/h {ratio:.2f})"))
    return out, fixes, [], frame


def fix_image(
    data: bytes,
    target: FixTarget,
    *,
    name: str = "image",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> FixedImage:
    """A copy of ``data`` that meets ``target`` where that is safe, and what still needs a person.

    Raises:
        ImageDecodeError: ``data`` is not an image Modiste decodes.
    """
    decoded = decode_image(data, max_pixels=max_pixels, name=name)
    img, src_format = decoded.image, decoded.format
    fixes: list[Fix] = []
    needs: list[NeedsPerson] = []
    frame: tuple[int, int, int, int] | None = None
    arr = np.asarray(img)
    back = backdrop(arr, target)
    box_tolerance = max(target.background_tolerance, BOX_TOLERANCE)
    box = product_box(arr, back.colour, box_tolerance) if back else None
    fill = fill_of(box, img.width, img.height) if box else None
    frame_ok = _aspect_ok(img.width, img.height, target) and (
        fill is None
        or (_fill_goal(fill, target) is None and _size_ok(img.width, img.height, target))
    )
    if not frame_ok and (back is None or box is None):
        what = "not one plain colour" if back is None else "empty"
        why = f"the backdrop is {what}, so it cannot be extended or trimmed"
        needs.append(needs_person("background", why))
    elif not frame_ok and back is not None and box is not None:
        img, fixes, cannot, frame = _reframed(img, box, back, target)
        needs += cannot
    if not _size_ok(img.width, img.height, target):
        needs.append(needs_person("min_size", f"{img.width}x{img.height} px"))
    src_ok = not target.formats or src_format.lower() in target.formats
    if not fixes and src_ok and (target.max_bytes is None or len(data) <= target.max_bytes):
        return FixedImage(data, src_format, img.width, img.height, [], needs)  # untouched
    fmt = _output_format(src_format, target.formats)
    if fmt != src_format:
        fixes.append(Fix("format", f"converted {src_format} to {fmt}"))
    before = img.size
    out, img, byte_fixes = _within_bytes(img, fmt, target)
    fixes += byte_fixes
    if target.max_bytes is not None and len(out) > target.max_bytes:
        hint = "" if target.allow_downscale else " (downscaling was not allowed)"
        why = f"{len(out)} bytes at the lowest quality, over {target.max_bytes}{hint}"
        needs.append(NeedsPerson("max_bytes", NEW_PHOTO, f"{why}: a lighter photo"))
    return FixedImage(out, fmt, img.width, img.height, fixes, needs, frame, img.size != before)
