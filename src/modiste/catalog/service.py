"""Product writes used by the API and the web editor: create, update, delete.

Reads live in :mod:`modiste.catalog.repository`; this module holds the few rules a write needs
(a seller is created on first use, a field set by a person is certain, image sources given over
HTTP are URLs only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modiste.catalog.repository import get_product, seller_id_for
from modiste.catalog.schema import ImageRow, ProductRow
from modiste.errors import ConfigError, NotFoundError

EDITABLE = (
    "title",
    "description",
    "brand",
    "gender",
    "product_type",
    "price",
    "currency",
    "link",
    "attributes",
)
# A field a person sets is no longer a guess: its confidence becomes 1 so the editor's
# "least confident first" view moves it to the end.
_CONFIDENCE_OF = {"gender": "gender_confidence", "product_type": "product_type_confidence"}


def _set_images(product: ProductRow, sources: Sequence[str]) -> None:
    seen: set[str] = set()
    for pos, src in enumerate(sources):
        if src in seen:
            continue
        seen.add(src)
        product.images.append(ImageRow(source=src, position=pos, status="pending"))


def create_product(
    session: Session,
    seller: str,
    external_id: str,
    fields: Mapping[str, Any],
    images: Sequence[str],
) -> ProductRow:
    """A new product with pending images (ingest fetches them). Duplicate ids are refused."""
    seller_id = seller_id_for(session, seller)
    exists = session.scalar(
        select(ProductRow.id).where(
            ProductRow.seller_id == seller_id, ProductRow.external_id == external_id
        )
    )
    if exists is not None:
        raise ConfigError(f"seller {seller!r} already has a product {external_id!r} (#{exists})")
    product = ProductRow(seller_id=seller_id, external_id=external_id, attributes={})
    for key, value in fields.items():
        if key in EDITABLE:
            setattr(product, key, value if value is not None or key != "title" else "")
    product.title = product.title or ""
    product.description = product.description or ""
    _set_images(product, images)
    session.add(product)
    try:
        session.flush()
    except IntegrityError as e:  # a concurrent create of the same id
        # The cause names tables and columns: it stays in the chain (logs), not in the message.
        raise ConfigError(
            f"seller {seller!r} already has a product {external_id!r} (created concurrently)"
        ) from e
    return get_product(session, product.id)


def update_product(session: Session, product_id: int, changes: Mapping[str, Any]) -> ProductRow:
    """Apply the given fields only; a person's value for type or gender gets confidence 1."""
    product = get_product(session, product_id)
    for key, value in changes.items():
        if key not in EDITABLE:
            raise ConfigError(f"field {key!r} cannot be edited; editable: {', '.join(EDITABLE)}")
        if key in ("title", "description") and value is None:
            value = ""
        setattr(product, key, value)
        if key in _CONFIDENCE_OF:
            setattr(product, _CONFIDENCE_OF[key], 1.0 if value is not None else None)
    # Marked as a person's: a later import of a changed feed row keeps these fields.
    product.edited_fields = sorted({*(product.edited_fields or ()), *changes})
    session.flush()
    return product


def update_products(
    session: Session, product_ids: Sequence[int], changes: Mapping[str, Any]
) -> list[ProductRow]:
    """The same change for several products (the editor's bulk edit); all or none.

    Every id must exist: one unknown id raises NotFoundError before anything is changed (the
    caller's transaction is rolled back on errors anyway).
    """
    ids = list(dict.fromkeys(product_ids))
    found = set(session.scalars(select(ProductRow.id).where(ProductRow.id.in_(ids))))
    if missing := [i for i in ids if i not in found]:
        raise NotFoundError(
            f"no product {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return [update_product(session, pid, changes) for pid in ids]


def delete_product(session: Session, product_id: int) -> None:
    session.delete(get_product(session, product_id))
    session.flush()
