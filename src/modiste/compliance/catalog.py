"""Compliance checks on the catalog: stored shot labels and fingerprints in, stored results out.

A stored result carries a ``state``: a hash of the profile's rules and of the gallery it judged
(image ids, bytes' hashes, shot labels, positions, the product's type) and of the checker's
version. When any of them changes the result is stale and is computed again; otherwise the API
and the catalog view read it as is, so the photos of an unchanged product are never measured
(or OCR'd) again; a changed gallery is checked again whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.schema import ComplianceRow, FingerprintRow, ImageRow, ProductRow, utcnow
from modiste.compliance.check import ProductReport, check_gallery
from modiste.compliance.measure import ImageInput, OcrLike
from modiste.compliance.profiles import Profile
from modiste.config import Settings
from modiste.errors import NotFoundError

log = logging.getLogger(__name__)
CHUNK = 200  # products per session
# Bumped when a measurement changes what a rule finds, so that stored verdicts are redone:
# 2 = overlay text by the text detector on marks' strips (was: the full OCR reader).
CHECKER_VERSION = 2


@dataclass(frozen=True)
class CatalogProduct:
    id: int
    external_id: str
    category: str | None
    images: list[ImageInput]
    state: str


def profile_digest(profile: Profile) -> str:
    """A hash of everything in a profile, and of the checker's version, that changes a verdict."""
    doc = {
        "profile": profile.to_dict(),
        "regulation": profile.regulation.to_dict(),
        "checker": CHECKER_VERSION,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _state(digest: str, product: ProductRow, images: Sequence[ImageRow]) -> str:
    parts = [digest, product.product_type or ""]
    for i in sorted(images, key=lambda i: i.id):
        label = i.shot.label if i.shot else ""
        parts.append(f"{i.id}:{i.content_hash}:{label}:{i.position}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def gallery_images(product: ProductRow) -> list[ImageRow]:
    """The photos a channel gets: stored, not kept out of the gallery (checks and exports)."""
    return [
        i
        for i in product.images
        if i.status == "stored" and i.in_gallery is not False and i.content_hash
    ]


def products_with_images(session: Session, ids: Sequence[int]) -> Sequence[ProductRow]:
    """Products ``ids`` (by id) with their images and shot labels loaded in two queries."""
    return session.scalars(
        select(ProductRow)
        .where(ProductRow.id.in_(list(ids)))
        .options(selectinload(ProductRow.images).selectinload(ImageRow.shot))
        .order_by(ProductRow.id)
    ).all()


def _load(session: Session, ids: Sequence[int], digest: str) -> list[CatalogProduct]:
    from modiste.cleaning.catalog_dedupe import from_row

    rows = products_with_images(session, ids)
    image_ids = [i.id for p in rows for i in gallery_images(p)]
    prints = {
        r.image_id: from_row(r)
        for r in session.scalars(
            select(FingerprintRow).where(FingerprintRow.image_id.in_(image_ids))
        )
    }
    out = []
    for p in rows:
        gallery = gallery_images(p)
        images = [
            ImageInput(
                key=str(i.id),
                label=i.shot.label if i.shot else None,
                confidence=float(i.shot.confidence) if i.shot else 0.0,
                position=i.position,
                fingerprint=prints.get(i.id),
                width=i.width,
                height=i.height,
                file_bytes=i.bytes,
                format=(i.format or "").lower() or None,
            )
            for i in gallery
        ]
        out.append(
            CatalogProduct(p.id, p.external_id, p.product_type, images, _state(digest, p, gallery))
        )
    return out


def _with_bytes(product: CatalogProduct, store: Any, hashes: dict[str, str]) -> list[ImageInput]:
    from dataclasses import replace

    from modiste.errors import ModisteError

    out = []
    for item in product.images:
        try:
            out.append(replace(item, data=store.get(hashes[item.key])))
        except (ModisteError, OSError):
            out.append(item)  # no bytes: the check reports it as unreadable
    return out


def check_product(
    product: CatalogProduct,
    profile: Profile,
    store: Any,
    hashes: dict[str, str],
    *,
    ocr: OcrLike | None,
    max_pixels: int,
) -> ProductReport:
    report = check_gallery(
        profile,
        _with_bytes(product, store, hashes),
        product.category,
        product=product.id,
        ocr=ocr,
        max_pixels=max_pixels,
    )
    report.external_id = product.external_id
    return report


def _hashes(session: Session, ids: Sequence[int]) -> dict[str, str]:
    rows = session.execute(
        select(ImageRow.id, ImageRow.content_hash).where(ImageRow.product_id.in_(list(ids)))
    )
    return {str(i): h for i, h in rows if h}


def _save(session: Session, profile: str, product: CatalogProduct, report: ProductReport) -> None:
    session.execute(
        delete(ComplianceRow).where(
            ComplianceRow.product_id == product.id, ComplianceRow.profile == profile
        )
    )
    session.add(
        ComplianceRow(
            product_id=product.id,
            profile=profile,
            state=product.state,
            violations=report.violation_count,
            report=report.to_dict(),
            checked_at=utcnow(),
        )
    )


def _all_ids(session: Session, product_ids: Sequence[int] | None) -> list[int]:
    query = select(ProductRow.id).order_by(ProductRow.id)
    if product_ids is not None:
        query = query.where(ProductRow.id.in_(list(product_ids)))
    return list(session.scalars(query))


def check_catalog(
    settings: Settings,
    db: Any,
    profile: Profile,
    *,
    ocr: OcrLike | None = None,
    store: Any = None,
    product_ids: Sequence[int] | None = None,
    only_stale: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[ProductReport]:
    """Check (and store) every product, or those given; ``only_stale`` skips products whose
    stored result is current (what ingest does). Returns the reports computed now."""
    from modiste.imaging.store import open_image_store

    store = store if store is not None else open_image_store(settings)
    digest = profile_digest(profile)
    with db.session() as session:
        ids = _all_ids(session, product_ids)
    reports: list[ProductReport] = []
    done = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with db.session() as session:
            products = _load(session, chunk, digest)
            hashes = _hashes(session, chunk)
            current = _states(session, profile.name, chunk) if only_stale else {}
        results = []
        for product in products:
            done += 1
            if only_stale and current.get(product.id) == product.state:
                continue
            report = check_product(
                product, profile, store, hashes, ocr=ocr, max_pixels=settings.max_image_pixels
            )
            results.append((product, report))
            if progress is not None:
                progress(done)
        with db.session() as session:  # a product deleted meanwhile has nothing to store
            alive = set(session.scalars(select(ProductRow.id).where(ProductRow.id.in_(chunk))))
            for product, report in results:
                if product.id in alive:
                    _save(session, profile.name, product, report)
        reports.extend(r for _, r in results)
    return reports


def _states(session: Session, profile: str, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(ComplianceRow.product_id, ComplianceRow.state).where(
            ComplianceRow.profile == profile, ComplianceRow.product_id.in_(list(ids))
        )
    )
    return {pid: state for pid, state in rows}


def product_compliance(
    settings: Settings,
    db: Any,
    profile: Profile,
    product_id: int,
    *,
    ocr: OcrLike | None = None,
    store: Any = None,
) -> tuple[dict[str, Any], bool]:
    """One product's report as stored when still current, else checked now and stored.

    Returns the report and whether it came from the store.
    """
    digest = profile_digest(profile)
    with db.session() as session:
        products = _load(session, [product_id], digest)
        if not products:
            raise NotFoundError(f"product {product_id} not found")
        row = session.get(ComplianceRow, (product_id, profile.name))
        if row is not None and row.state == products[0].state:
            return dict(row.report), True
    check_catalog(settings, db, profile, ocr=ocr, store=store, product_ids=[product_id])
    with db.session() as session:
        row = session.get(ComplianceRow, (product_id, profile.name))
        if row is None:  # deleted while it was checked
            raise NotFoundError(f"product {product_id} not found")
        return dict(row.report), False


@dataclass(frozen=True)
class FailingProduct:
    product_id: int
    external_id: str
    title: str
    violations: int
    rules: list[str]
    checked_at: Any


def failing_products(
    session: Session, profile: str, *, limit: int = 50, offset: int = 0
) -> tuple[int, list[FailingProduct]]:
    """Products whose stored check found violations, worst first (then by id)."""
    where = (ComplianceRow.profile == profile, ComplianceRow.violations > 0)
    total = session.scalar(select(func.count()).select_from(ComplianceRow).where(*where)) or 0
    rows = session.execute(
        select(ComplianceRow, ProductRow.external_id, ProductRow.title)
        .join(ProductRow, ProductRow.id == ComplianceRow.product_id)
        .where(*where)
        .order_by(ComplianceRow.violations.desc(), ComplianceRow.product_id)
        .limit(limit)
        .offset(offset)
    )
    out = []
    for row, external_id, title in rows:
        out.append(
            FailingProduct(row.product_id, external_id, title or "", row.violations,
                           _rules(row.report), row.checked_at)
        )  # fmt: skip
    return int(total), out


def _rules(report: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for v in report.get("violations", []):
        seen[v["rule"]] = None
    for image in report.get("images", []):
        for v in image.get("violations", []):
            seen[v["rule"]] = None
    return list(seen)


def stale_products(session: Session, profile: Profile) -> Iterator[int]:
    """Ids of products with no current stored result for ``profile``."""
    digest = profile_digest(profile)
    ids = _all_ids(session, None)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        current = _states(session, profile.name, chunk)
        for p in _load(session, chunk, digest):
            if current.get(p.id) != p.state:
                yield p.id
