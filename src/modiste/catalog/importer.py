"""Storing feed rows: idempotent upserts keyed by (seller, product id)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from modiste.catalog.db import Database
from modiste.catalog.feeds import FeedRow, RowError, read_feed
from modiste.catalog.genders import normalise_gender
from modiste.catalog.local_files import FileRoots
from modiste.catalog.repository import seller_id_for
from modiste.catalog.schema import ImageRow, ProductRow

log = logging.getLogger(__name__)
DEFAULT_SELLER = "default"
_CHUNK = 200


@dataclass
class ImportReport:
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    images_added: int = 0
    images_removed: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)  # imported rows that lost a value

    @property
    def rows_ok(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "images_added": self.images_added,
            "images_removed": self.images_removed,
            "errors": [
                {"line": e.line, "id": e.external_id, "reason": e.reason} for e in self.errors
            ],
            "warnings": [
                {"line": w.line, "id": w.external_id, "reason": w.reason} for w in self.warnings
            ],
        }


def _seller(session: Session, name: str, cache: dict[str, int]) -> int:
    if name in cache:
        return cache[name]
    seller_id = cache[name] = seller_id_for(session, name)
    return seller_id


def _sync_images(product: ProductRow, sources: list[str], report: ImportReport) -> None:
    existing = {img.source: img for img in product.images}
    wanted = set(sources)
    for source, img in existing.items():
        if source not in wanted:
            product.images.remove(img)
            report.images_removed += 1
    for position, source in enumerate(sources):
        current = existing.get(source)
        if current is None:
            product.images.append(ImageRow(source=source, position=position, status="pending"))
            report.images_added += 1
        elif current.position != position:
            current.position = position


def _raw_gender(raw: str | None) -> dict[str, str]:
    """The feed's own spelling of gender, kept when the catalog stores another ("Mens")."""
    return {"gender_raw": raw} if raw and normalise_gender(raw) != raw else {}


def _apply(session: Session, row: FeedRow, seller_id: int, report: ImportReport) -> None:
    product = session.scalar(
        select(ProductRow).where(
            ProductRow.seller_id == seller_id, ProductRow.external_id == row.external_id
        )
    )
    digest = row.row_hash()
    if product is not None and product.row_hash == digest:
        report.unchanged += 1
        return
    created = product is None
    if product is None:
        product = ProductRow(seller_id=seller_id, external_id=row.external_id, attributes={})
        session.add(product)
    edited = set(product.edited_fields or ())  # a person's values win over the feed's
    for name in ("title", "description", "brand", "price", "currency", "link"):
        if name not in edited:
            setattr(product, name, getattr(row, name))
    for name, confidence in (
        ("gender", "gender_confidence"),
        ("product_type", "product_type_confidence"),
    ):
        value = normalise_gender(row.gender) if name == "gender" else row.product_type
        guessed = getattr(product, confidence) not in (None, 1.0)
        if name in edited or (value is None and guessed):
            continue  # a person's value, or the categorizer's fill of a field the feed leaves empty
        setattr(product, name, value)
        setattr(product, confidence, 1.0 if value else None)
    stored = product.attributes or {}
    feed = {**row.attributes, **_raw_gender(row.gender)}
    product.attributes = {**feed, **stored} if "attributes" in edited else {**stored, **feed}
    product.row_hash = digest
    if row.images:  # a feed without image links (a price update) leaves the gallery alone
        _sync_images(product, row.images, report)
    session.flush()
    if created:
        report.created += 1
    else:
        report.updated += 1


def import_rows(
    db: Database,
    rows: Iterable[FeedRow | RowError],
    *,
    source: str,
    seller: str | None = None,
) -> ImportReport:
    """Upsert rows in chunks; a row that fails is reported with its line and skipped."""
    report = ImportReport(source=source)
    sellers: dict[str, int] = {}
    batch: list[FeedRow] = []

    def flush(batch: list[FeedRow]) -> None:
        with db.session() as session:
            for row in batch:
                try:
                    with session.begin_nested():  # a savepoint: one bad row can't poison the rest
                        seller_id = _seller(
                            session, row.seller or seller or DEFAULT_SELLER, sellers
                        )
                        _apply(session, row, seller_id, report)
                except SQLAlchemyError as e:
                    log.warning("line %s: %s", row.line, e)
                    sellers.clear()
                    report.errors.append(
                        RowError(
                            row.line,
                            f"database refused the row: {e.__class__.__name__}",
                            row.external_id,
                        )
                    )

    for row in rows:
        if isinstance(row, RowError):
            report.errors.append(row)
            continue
        report.warnings += [RowError(row.line, note, row.external_id) for note in row.notes]
        batch.append(row)
        if len(batch) >= _CHUNK:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return report


def import_feed(db: Database, path: Path, *, seller: str | None = None) -> ImportReport:
    """Import a feed file (CSV/TSV/JSONL) or a folder of product folders.

    Local image paths must lie inside ``feed_file_roots``, or when none are set inside the
    feed's own folder (the folder itself for a folder import).
    """
    path = Path(path)
    roots = FileRoots.for_import(db.settings, path if path.is_dir() else path.parent)
    return import_rows(db, read_feed(path, roots), source=str(path), seller=seller)
