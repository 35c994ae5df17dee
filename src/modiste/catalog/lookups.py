"""Batch lookups by id, for pages that show many products at once (search hits, groups)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.schema import ImageRow, ProductRow

if TYPE_CHECKING:
    from modiste.catalog.repository import ProductFilter


def products_by_ids(session: Session, ids: Iterable[int]) -> dict[int, ProductRow]:
    """Products with seller and images loaded, in one query per table."""
    wanted = {int(i) for i in ids}
    if not wanted:
        return {}
    rows = session.scalars(
        select(ProductRow)
        .where(ProductRow.id.in_(wanted))
        .options(selectinload(ProductRow.seller), selectinload(ProductRow.images))
    )
    return {p.id: p for p in rows}


def images_by_ids(session: Session, ids: Iterable[int]) -> dict[int, ImageRow]:
    wanted = {int(i) for i in ids}
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(ImageRow).where(ImageRow.id.in_(wanted)))}


def cover_image(product: ProductRow) -> ImageRow | None:
    """The first stored image in gallery order (rank when set, else feed position)."""
    stored = [i for i in product.images if i.status == "stored" and i.in_gallery is not False]
    if not stored:
        return None
    return min(stored, key=lambda i: (i.gallery_rank is None, i.gallery_rank or 0, i.position))


def facets(session: Session) -> dict[str, list[str]]:
    """Distinct values for the search filters (product types, genders, sellers)."""
    from modiste.catalog.schema import Seller

    def distinct(col) -> list[str]:  # type: ignore[no-untyped-def]
        return sorted({v for v in session.scalars(select(col).distinct()) if v})

    return {
        "product_types": distinct(ProductRow.product_type),
        "genders": distinct(ProductRow.gender),
        "sellers": distinct(Seller.name),
    }


CONFIDENCE_SORTS = ("type", "gender", "shot")


def products_by_confidence(
    session: Session,
    sort: str = "type",
    *,
    limit: int = 50,
    offset: int = 0,
    flt: ProductFilter | None = None,
) -> tuple[list[tuple[ProductRow, float | None]], int]:
    """Products whose predictions are least certain first (unpredicted ones last).

    ``sort`` is "type" (product_type_confidence), "gender" (gender_confidence) or "shot" (the
    lowest shot confidence among the product's photos); ``flt`` narrows the list (the editor's
    search and filters). Returns (product, that confidence) and the filtered total.
    """
    from sqlalchemy import func

    from modiste.catalog.repository import ProductFilter, product_clauses
    from modiste.catalog.schema import Seller, ShotRow
    from modiste.errors import ConfigError

    conf: Any
    if sort == "type":
        conf = ProductRow.product_type_confidence
    elif sort == "gender":
        conf = ProductRow.gender_confidence
    elif sort == "shot":
        conf = (
            select(func.min(ShotRow.confidence))
            .join(ImageRow, ImageRow.id == ShotRow.image_id)
            .where(ImageRow.product_id == ProductRow.id)
            .correlate(ProductRow)
            .scalar_subquery()
        )
    else:
        raise ConfigError(f"unknown sort {sort!r}; valid: {', '.join(CONFIDENCE_SORTS)}")
    where = product_clauses(flt or ProductFilter())
    matching = select(ProductRow.id).join(Seller).where(*where)
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    rows = session.execute(
        select(ProductRow, conf.label("conf"))
        .join(Seller)
        .where(*where)
        .options(selectinload(ProductRow.seller), selectinload(ProductRow.images))
        .order_by(conf.is_(None), conf.asc(), ProductRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [(p, c) for p, c in rows], int(total)
