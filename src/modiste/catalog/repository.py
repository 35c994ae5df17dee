"""Read queries over the catalog used by the CLI, API and services. No business rules here."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.genders import gender_spellings
from modiste.catalog.schema import ImageRow, ProductRow, Seller, StageState
from modiste.errors import NotFoundError
from modiste.index.filters import category_key

_DETAIL = re.compile(r"\s*\(.*\)\s*$")


def failure_reason(error: str | None, source: str | None = None) -> str:
    """Group errors by reason: drop the leading 'source: ' and trailing '(details)'.

    With ``source``, exactly that prefix is dropped, so a path that itself holds ': ' does not
    cut the message in the wrong place.
    """
    if not error:
        return "unknown"
    if source and error.startswith(f"{source}: "):
        text = error[len(source) + 2 :]
    else:
        text = error.split(": ", 1)[1] if ": " in error else error
    return _DETAIL.sub("", text).strip() or "unknown"


def contains(column: Any, text: str) -> Any:
    """Case-insensitive "column contains text", with ``%`` and ``_`` meaning themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def in_category(category: str) -> Any:
    """SQL for :func:`~modiste.index.filters.in_category`: the stored type's key (spaces out,
    ">" as "/") equals the category's key or starts with it and a "/"."""
    key = category_key(category)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stored = func.replace(func.replace(ProductRow.product_type, " ", ""), ">", "/")
    return or_(stored.ilike(escaped, escape="\\"), stored.ilike(escaped + "/%", escape="\\"))


@dataclass(frozen=True)
class ProductFilter:
    seller: str | None = None
    product_type: str | None = None  # a category path: that category or below it
    gender: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    query: str | None = None  # substring of title/brand


def missing_originals(session: Session, exists: Callable[[str], bool]) -> list[int]:
    """Ids of images marked stored whose original is not in the image store.

    A data folder copied mid-ingest (files before the database) has such rows: they look done
    to every stage. One ``exists`` call (a stat) per distinct content hash.
    """
    rows = session.execute(
        select(ImageRow.id, ImageRow.content_hash).where(ImageRow.status == "stored")
    ).all()
    present: dict[str, bool] = {}
    missing = []
    for image_id, content_hash in rows:
        if not content_hash:
            missing.append(image_id)
            continue
        if content_hash not in present:
            present[content_hash] = exists(content_hash)
        if not present[content_hash]:
            missing.append(image_id)
    return sorted(missing)


def stage_failures(session: Session) -> dict[str, dict[str, int]]:
    """Failed outcomes of every ingest stage, grouped by stage then reason."""
    by_stage: dict[str, Counter[str]] = defaultdict(Counter)
    for stage, error, source in session.execute(
        select(StageState.stage, StageState.error, ImageRow.source)
        .join(ImageRow, ImageRow.id == StageState.image_id)
        .where(StageState.status == "failed")
    ):
        by_stage[stage][failure_reason(error, source)] += 1
    return {stage: dict(reasons.most_common()) for stage, reasons in sorted(by_stage.items())}


def catalog_status(
    session: Session, *, original_exists: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """Counts for ``modiste status`` and the health route.

    ``images.failed`` counts images the store stage could not keep; ``failed_images`` counts
    images with a failure at any stage (a stored photo the classifier could not read is not
    "fine"). With ``original_exists`` (the image store's check), stored images whose file is
    gone are counted in ``missing_originals``.
    """
    images_by_status = dict(
        session.execute(select(ImageRow.status, func.count()).group_by(ImageRow.status)).all()
    )
    failures = Counter(
        failure_reason(err, source)
        for err, source in session.execute(
            select(ImageRow.error, ImageRow.source).where(ImageRow.status == "failed")
        )
    )
    stages = {
        f"{stage}:{status}": n
        for stage, status, n in session.execute(
            select(StageState.stage, StageState.status, func.count()).group_by(
                StageState.stage, StageState.status
            )
        )
    }
    policy = Counter(
        reason
        for (reason,) in session.execute(
            select(ImageRow.policy_reason).where(ImageRow.in_search.is_(False))
        )
    )
    failed_images = session.scalar(
        select(func.count(func.distinct(StageState.image_id))).where(StageState.status == "failed")
    )
    status: dict[str, Any] = {
        "sellers": session.scalar(select(func.count()).select_from(Seller)) or 0,
        "products": session.scalar(select(func.count()).select_from(ProductRow)) or 0,
        "images": {
            "total": sum(images_by_status.values()),
            **{k: images_by_status.get(k, 0) for k in ("pending", "stored", "failed")},
        },
        "failures_by_reason": dict(failures.most_common()),
        "stages": stages,
        "kept_out_of_search": dict(policy.most_common()),
        "failed_images": failed_images or 0,
        "failures_by_stage": stage_failures(session),
    }
    if original_exists is not None:
        missing = missing_originals(session, original_exists)
        status["missing_originals"] = {"images": len(missing), "image_ids": missing[:20]}
    return status


def product_clauses(flt: ProductFilter) -> list[Any]:
    """WHERE clauses of a product filter (the query must join Seller): lists and the editor."""
    clauses: list[Any] = []
    if flt.seller:
        clauses.append(Seller.name == flt.seller)
    if category_key(flt.product_type):
        clauses.append(in_category(flt.product_type or ""))
    if genders := gender_spellings(flt.gender):  # "female" finds the stored "women"
        clauses.append(func.lower(ProductRow.gender).in_(genders))
    if flt.min_price is not None:
        clauses.append(ProductRow.price >= flt.min_price)
    if flt.max_price is not None:
        clauses.append(ProductRow.price <= flt.max_price)
    if flt.query:
        clauses.append(
            or_(contains(ProductRow.title, flt.query), contains(ProductRow.brand, flt.query))
        )
    return clauses


def list_products(
    session: Session, flt: ProductFilter | None = None, *, limit: int = 50, offset: int = 0
) -> tuple[list[ProductRow], int]:
    query = select(ProductRow).join(Seller).where(*product_clauses(flt or ProductFilter()))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(ProductRow.images), selectinload(ProductRow.seller))
        .order_by(ProductRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def seller_id_for(session: Session, name: str) -> int:
    """The seller's id, creating the seller when new.

    Two writers (an import, API creates) may meet a new seller at once: the loser's insert fails
    on the unique name inside a savepoint, and it reads the winner's row instead of failing.
    """
    found = session.scalar(select(Seller.id).where(Seller.name == name))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            seller = Seller(name=name)
            session.add(seller)
        return seller.id
    except IntegrityError:
        found = session.scalar(select(Seller.id).where(Seller.name == name))
        if found is None:
            raise
        return found


def get_product(session: Session, key: int | str, seller: str | None = None) -> ProductRow:
    """A product by internal id (an int), or by feed id (a str, optionally within one seller).

    A digit string is tried as a feed id first (feeds often have numeric ids, which would
    otherwise silently pick whichever product has that internal id), then as an internal id.
    """
    options = (
        selectinload(ProductRow.images).selectinload(ImageRow.shot),
        selectinload(ProductRow.seller),
    )
    product = None
    if isinstance(key, int):
        # ids are 32-bit: a larger number is "not found", not a database overflow error
        product = session.get(ProductRow, key, options=options) if 0 < key < 2**31 else None
    else:
        query = select(ProductRow).join(Seller).where(ProductRow.external_id == str(key))
        if seller:
            query = query.where(Seller.name == seller)
        matches = session.scalars(query.options(*options)).all()
        if len(matches) > 1:
            sellers = ", ".join(sorted(m.seller.name for m in matches))
            raise NotFoundError(
                f"product id {key!r} exists for several sellers ({sellers}); name one"
            )
        product = matches[0] if matches else None
        if product is None and key.isdigit() and 0 < int(key) < 2**31:
            product = session.get(ProductRow, int(key), options=options)
            if product is not None and seller and product.seller.name != seller:
                product = None
    if product is None:
        raise NotFoundError(f"no product {key!r}")
    return product


def product_dict(product: ProductRow) -> dict[str, Any]:
    return {
        "id": product.id,
        "external_id": product.external_id,
        "seller": product.seller.name,
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "gender": product.gender,
        "gender_confidence": product.gender_confidence,
        "product_type": product.product_type,
        "product_type_confidence": product.product_type_confidence,
        "price": product.price,
        "currency": product.currency,
        "link": product.link,
        "attributes": product.attributes or {},
        "images": [
            {
                "id": img.id,
                "position": img.position,
                "source": img.source,
                "status": img.status,
                "error": img.error,
                "content_hash": img.content_hash,
                "width": img.width,
                "height": img.height,
            }
            for img in product.images
        ],
    }
