"""Export each product's gallery for one sales channel: ordered, fixed copies, a feed, a report.

Per product a folder holds the channel's gallery in the profile's order (``01-...``,
``02-...``), each file a safe fix of the original or the original's bytes as they are. The
copies are then checked against the profile like ``modiste check`` does, so the report's "needs
a person" list is what the channel would still refuse, not a guess. ``feed.tsv`` is a
Google-Merchant feed whose image links point at the exported files under ``base_url``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from modiste.compliance.check import ProductReport, Violation, check_gallery
from modiste.compliance.fixes import (
    PERSON_ACTIONS,
    RETOUCH,
    Fix,
    FixedImage,
    NeedsPerson,
    fix_image,
    target_for,
)
from modiste.compliance.measure import ImageInput, OcrLike
from modiste.compliance.measure import default_ocr as measure_default_ocr
from modiste.compliance.profiles import Profile
from modiste.errors import ConfigError, ImageDecodeError, ModisteError
from modiste.exports import SafeWriter
from modiste.gallery.ordering import GalleryItem, order_gallery
from modiste.gallery.taxonomy import UNKNOWN
from modiste.imaging.decode import DEFAULT_MAX_PIXELS
from modiste.imaging.store import atomic_write

if TYPE_CHECKING:
    from modiste.catalog.db import Database

FEED_COLUMNS = ("id", "title", "link", "image_link", "additional_image_link")
REPORT_FILE, FEED_FILE = "report.json", "feed.tsv"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Kinds a fix handles: still violated after the fixes, they need a person for these reasons.
_AFTER_FIX = {
    "fill": (RETOUCH, "the product could not be framed on a plain backdrop: reframe or reshoot"),
    "aspect": (RETOUCH, "could not be padded (no plain backdrop): crop or reshoot"),
    "max_bytes": ("new photo", "still over the byte limit: a lighter original"),
    "format": (RETOUCH, "save it in a format the channel accepts"),
    "gallery": ("new photo", "no photo is left for the channel"),
}


@dataclass
class ExportProduct:
    """One product to export: its feed id and its photos in the merchant's order."""

    id: str
    images: list[ImageInput]
    title: str = ""
    link: str | None = None
    category: str | None = None
    load: Callable[[ImageInput], bytes] | None = None  # bytes of an image with no path/data


class BytesStore(Protocol):
    """What the export needs of an image store (local folder or S3): bytes by content hash."""

    def get(self, content_hash: str) -> bytes: ...


@dataclass
class ExportedImage:
    image: str  # the source: file name or image id
    file: str  # the exported copy, relative to the export folder
    rank: int
    label: str | None
    fixed: FixedImage
    needs: list[NeedsPerson] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "file": self.file,
            "rank": self.rank,
            "shot": self.label,
            "fixes": [f.to_dict() for f in self.fixed.fixes],
            "needs_person": [n.to_dict() for n in self.needs],
            "bytes": len(self.fixed.data),
            "size": [self.fixed.width, self.fixed.height],
        }


@dataclass
class ProductExport:
    product: str
    folder: str
    images: list[ExportedImage] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)  # about the gallery (photos left out)
    needs: list[NeedsPerson] = field(default_factory=list)  # about the gallery
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (image, why)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (image, why unreadable)
    not_checked: list[tuple[str, str]] = field(default_factory=list)  # (rule, why)

    @property
    def fix_count(self) -> int:
        return len(self.fixes) + sum(len(i.fixed.fixes) for i in self.images)

    @property
    def needs_count(self) -> int:
        return len(self.needs) + sum(len(i.needs) for i in self.images)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "folder": self.folder,
            "images": [i.to_dict() for i in self.images],
            "fixes": [f.to_dict() for f in self.fixes],
            "needs_person": [n.to_dict() for n in self.needs],
            "left_out": [{"image": k, "reason": r} for k, r in self.left_out],
            "errors": [{"image": k, "error": e} for k, e in self.errors],
            "not_checked": [{"rule": k, "reason": r} for k, r in self.not_checked],
        }


@dataclass
class ExportReport:
    profile: str
    base_url: str
    products: list[ProductExport] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "images": sum(len(p.images) for p in self.products),
            "fixes": sum(p.fix_count for p in self.products),
            "needs_person": sum(p.needs_count for p in self.products),
            "products_ready": sum(1 for p in self.products if p.needs_count == 0),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "base_url": self.base_url,
            "feed": FEED_FILE,
            "summary": self.summary(),
            "products": [p.to_dict() for p in self.products],
        }


def default_ocr() -> OcrLike | None:
    """The checker's text detector (see :func:`modiste.compliance.measure.default_ocr`)."""
    return measure_default_ocr()


def folder_name(product_id: str, taken: set[str]) -> str:
    """A file-system-safe, unique folder name for a product id (``../x`` becomes ``x``)."""
    base = _UNSAFE.sub("_", product_id).strip("._") or "product"
    name, n = base[:120], 2
    while name.casefold() in taken:
        name, n = f"{base[:115]}-{n}", n + 1
    taken.add(name.casefold())
    return name


def _url(base_url: str, *parts: str) -> str:
    path = "/".join(quote(p) for p in parts)
    if not base_url:
        return path
    return base_url.rstrip("/") + "/" + path


def _violation_need(v: Violation, image: str | None = None) -> NeedsPerson:
    action, hint = _AFTER_FIX.get(v.kind) or PERSON_ACTIONS.get(v.kind, (RETOUCH, ""))
    if v.kind == "max_images":  # the export left the extra photos out: only a note
        action = "choose photos"
    where = f"{image}: " if image else ""
    return NeedsPerson(v.rule, action, f"{where}{v.message}" + (f" ({hint})" if hint else ""))


def _read(product: ExportProduct, item: ImageInput) -> bytes:
    if item.data is not None:
        return item.data
    if item.path is not None:
        return item.path.read_bytes()
    if product.load is None:
        raise ImageDecodeError(f"{item.key}: no file")
    return product.load(item)


def export_product(
    product: ExportProduct,
    profile: Profile,
    out: Path,
    folder: str,
    *,
    allow_downscale: bool = False,
    ocr: OcrLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ProductExport:
    """Order, fix and write one product's gallery under ``out/folder``, then check the copies."""
    result = ProductExport(product.id, folder)
    items = [
        GalleryItem(i.key, i.label or UNKNOWN, i.confidence, i.position) for i in product.images
    ]
    gallery = order_gallery(items, profile.regulation, product.category)
    result.left_out += [(e.item.key, e.reason) for e in gallery.excluded]
    kept = list(gallery.items)
    limits = [int(r.params["max"]) for r in profile.rules if r.kind == "max_images"]
    if limits and len(kept) > min(limits):
        extra = kept[min(limits) :]
        kept = kept[: min(limits)]
        why = f"the channel takes {min(limits)} photos"
        result.left_out += [(o.item.key, why) for o in extra]
        result.fixes.append(Fix("max_images", f"left out {len(extra)} photos: {why}"))
    by_key = {i.key: i for i in product.images}
    copies: list[ImageInput] = []
    rank = 0
    for ordered in kept:
        source = by_key[ordered.item.key]
        label = source.label
        try:
            target = target_for(profile, label, rank == 0, allow_downscale=allow_downscale)
            fixed = fix_image(
                _read(product, source), target, name=source.key, max_pixels=max_pixels
            )
        except (ModisteError, OSError) as e:  # unreadable or missing from the store
            why = getattr(e, "strerror", None) or str(e)
            result.errors.append((source.key, why))
            said = why if why.startswith(source.key) else f"{source.key}: {why}"
            result.needs.append(NeedsPerson("unreadable", "new photo", said))
            continue
        rank += 1
        stem = _UNSAFE.sub("_", Path(source.key).stem).strip("._")[:80] or "image"
        name = f"{rank:02d}-{stem}{fixed.suffix}"
        atomic_write(out / folder / name, fixed.data)
        image = ExportedImage(source.key, f"{folder}/{name}", rank, label, fixed, list(fixed.needs))
        result.images.append(image)
        copies.append(ImageInput(key=name, data=fixed.data, label=label,
                                 confidence=source.confidence, position=rank,
                                 fingerprint=None))  # fmt: skip
    _merge_check(result, check_gallery(profile, copies, product.category, product=product.id,
                                       ocr=ocr, max_pixels=max_pixels))  # fmt: skip
    return result


def _merge_check(result: ProductExport, after: ProductReport) -> None:
    """What the channel would still refuse in the copies becomes "needs a person".

    The check is the authority; a fix's own note stays only where the check has nothing of
    that kind to say (e.g. why a frame could not be extended).
    """
    by_file = {Path(i.file).name: i for i in result.images}
    for report in after.images:
        image = by_file[report.image]
        found = [_violation_need(v, image.image) for v in report.violations]
        kinds = {v.kind for v in report.violations}
        image.needs = found + [n for n in image.needs if n.rule not in kinds]
        result.not_checked += [(v.rule, f"{image.image}: {v.message}") for v in report.skipped]
    for v in after.violations:
        if v.kind != "max_images":  # the copies are within the limit; left-out photos listed
            result.needs.append(_violation_need(v))


def write_feed(path: Path, rows: Iterable[dict[str, str]]) -> None:
    """A Google-Merchant TSV feed, every cell spreadsheet-safe."""
    import io

    buf = io.StringIO()
    writer = SafeWriter(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(FEED_COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in FEED_COLUMNS])
    atomic_write(path, buf.getvalue().encode("utf-8"))


def feed_row(product: ExportProduct, export: ProductExport, base_url: str) -> dict[str, str]:
    links = [_url(base_url, *i.file.split("/")) for i in export.images]
    return {
        "id": product.id,
        "title": product.title,
        "link": product.link or "",
        "image_link": links[0] if links else "",
        "additional_image_link": ",".join(links[1:]),
    }


def prepare_out(out: Path, *, force: bool = False) -> None:
    """``out`` made, or refused when it holds files and ``force`` is off (nothing is lost)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} is not empty: choose a new folder, or --force to write into it")
    out.mkdir(parents=True, exist_ok=True)


def export_channel(
    products: Iterable[ExportProduct],
    profile: Profile,
    out: Path,
    *,
    base_url: str = "",
    allow_downscale: bool = False,
    ocr: OcrLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[ProductExport], None] | None = None,
) -> ExportReport:
    """Export every product to ``out`` (made first; see :func:`prepare_out`), with the feed and
    ``report.json``. An unreadable photo is reported and the export goes on."""
    report = ExportReport(profile.name, base_url)
    taken: set[str] = {REPORT_FILE, FEED_FILE}
    rows = []
    for product in products:
        folder = folder_name(product.id, taken)
        done = export_product(product, profile, out, folder, allow_downscale=allow_downscale,
                              ocr=ocr, max_pixels=max_pixels)  # fmt: skip
        report.products.append(done)
        rows.append(feed_row(product, done, base_url))
        if progress is not None:
            progress(done)
    write_feed(out / FEED_FILE, rows)
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic_write(out / REPORT_FILE, text.encode("utf-8"))
    return report


def products_from_folders(
    found: Sequence[tuple[str, Path, Sequence[Path]]],
    labels: Callable[[Sequence[Path]], Sequence[tuple[str, float]]],
) -> list[ExportProduct]:
    """Products from ``modiste sort``-style folders; ``labels`` names each photo's shot."""
    products = []
    for name, _folder, files in found:
        shots = labels(files)
        images = [
            ImageInput(key=f.name, path=f, label=label, confidence=conf, position=i)
            for i, (f, (label, conf)) in enumerate(zip(files, shots, strict=True))
        ]
        products.append(ExportProduct(name, images, title=name))
    return products


def _catalog_ids(db: Database, product_ids: Sequence[int] | None) -> list[int]:
    from sqlalchemy import select

    from modiste.catalog.schema import ProductRow

    with db.session() as session:
        query = select(ProductRow.id).order_by(ProductRow.id)
        if product_ids is not None:
            query = query.where(ProductRow.id.in_(list(product_ids)))
        return list(session.scalars(query))


def count_catalog_products(db: Database, product_ids: Sequence[int] | None = None) -> int:
    return len(_catalog_ids(db, product_ids))


def _loader(store: BytesStore, hashes: dict[str, str]) -> Callable[[ImageInput], bytes]:
    def load(item: ImageInput) -> bytes:
        return store.get(hashes[item.key])

    return load


def products_from_catalog(
    db: Database, store: BytesStore, *, product_ids: Sequence[int] | None = None, chunk: int = 200
) -> Iterator[ExportProduct]:
    """The catalog's products with their stored gallery photos and shot labels, a chunk of
    products per session; each photo's bytes are read from ``store`` only when exported."""
    from modiste.compliance.catalog import gallery_images, products_with_images

    ids = _catalog_ids(db, product_ids)
    for start in range(0, len(ids), chunk):
        with db.session() as session:
            products = []
            for p in products_with_images(session, ids[start : start + chunk]):
                gallery = gallery_images(p)
                hashes = {str(i.id): str(i.content_hash) for i in gallery}
                images = [
                    ImageInput(
                        key=str(i.id),
                        label=i.shot.label if i.shot else None,
                        confidence=float(i.shot.confidence) if i.shot else 0.0,
                        position=i.position,
                    )
                    for i in gallery
                ]
                products.append(
                    ExportProduct(
                        p.external_id, images, title=p.title, link=p.link,
                        category=p.product_type,
                        load=_loader(store, hashes),
                    )
                )  # fmt: skip
        yield from products  # outside the session: exporting takes its time
