"""/v1/products: list, get, create, update, delete, and the ordered gallery of one product."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from modiste.api.deps import AdminKey, DbDep, GalleryDep, ReadAccess, SessionDep, WriteKey
from modiste.api.ids import IdPath
from modiste.api.schemas import (
    GalleryImagePublic,
    GalleryOrderIn,
    ProductBulkUpdate,
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductUpdate,
    gallery_image_public,
    product_public,
)
from modiste.catalog import gallery_edits, service
from modiste.catalog.repository import ProductFilter, get_product, list_products
from modiste.catalog.repository_dupes import other_offers
from modiste.errors import ConfigError

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", response_model=ProductPage)
def list_(
    session: SessionDep,
    _: ReadAccess,
    seller: str | None = None,
    product_type: Annotated[
        str | None,
        Query(
            alias="type",
            max_length=200,
            description="A category path ('Men/Tops'): that category or below it, not a substring.",
        ),
    ] = None,
    gender: str | None = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ProductPage:
    flt = ProductFilter(seller, product_type, gender, min_price, max_price, q)
    rows, total = list_products(session, flt, limit=limit, offset=offset)
    return ProductPage(
        total=total, limit=limit, offset=offset, items=[product_public(p) for p in rows]
    )


@router.get("/{product_id}", response_model=ProductPublic)
def get(product_id: IdPath, session: SessionDep, _: ReadAccess) -> ProductPublic:
    return product_public(get_product(session, product_id))


@router.post("", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
def create(body: ProductCreate, session: SessionDep, _: WriteKey) -> ProductPublic:
    fields = body.model_dump(exclude={"seller", "external_id", "images"}, mode="json")
    row = service.create_product(
        session, body.seller, body.external_id, fields, [str(u) for u in body.images]
    )
    return product_public(row)


@router.patch("/{product_id}", response_model=ProductPublic)
def update(
    product_id: IdPath, body: ProductUpdate, session: SessionDep, _: WriteKey
) -> ProductPublic:
    changes = body.model_dump(exclude_unset=True, mode="json")
    return product_public(service.update_product(session, product_id, changes))


@router.patch("", response_model=list[ProductPublic])
def update_many(body: ProductBulkUpdate, session: SessionDep, _: WriteKey) -> list[ProductPublic]:
    """Bulk edit: the same fields for every listed product; an unknown id changes nothing."""
    changes = body.changes.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise ConfigError("no change given: send at least one field in 'changes'")
    return [product_public(p) for p in service.update_products(session, body.ids, changes)]


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(product_id: IdPath, session: SessionDep, _: AdminKey) -> Response:
    service.delete_product(session, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def gallery_list(product_id: int, session: Session) -> list[GalleryImagePublic]:
    return [gallery_image_public(e) for e in gallery_edits.ordered_gallery(session, product_id)]


@router.get("/{product_id}/offers", response_model=list[ProductPublic])
def offers(product_id: IdPath, session: SessionDep, _: ReadAccess) -> list[ProductPublic]:
    """The same item sold by other shops (the product's offer groups), cheapest first."""
    get_product(session, product_id)  # 404 for an unknown product, [] for one sold once
    return [product_public(p) for p in other_offers(session, product_id)]


@router.get("/{product_id}/images", response_model=list[GalleryImagePublic])
def gallery(product_id: IdPath, session: SessionDep, _: ReadAccess) -> list[GalleryImagePublic]:
    """The product's photos in regulation order (stored rank, else feed position)."""
    return gallery_list(product_id, session)


@router.put("/{product_id}/images/order", response_model=list[GalleryImagePublic])
def set_order(
    product_id: IdPath,
    body: GalleryOrderIn,
    session: SessionDep,
    _: WriteKey,
) -> list[GalleryImagePublic]:
    """Store a hand-made order (reason "set by hand")."""
    gallery_edits.set_manual_order(session, product_id, body.image_ids)
    return gallery_list(product_id, session)


@router.delete("/{product_id}/images/order", response_model=list[GalleryImagePublic])
def reset_order(
    product_id: IdPath, db: DbDep, gallery: GalleryDep, _: WriteKey
) -> list[GalleryImagePublic]:
    """Forget the hand-made order: the gallery is ordered by the regulation again."""
    gallery.reset_order(db, product_id)
    with db.session() as session:
        return gallery_list(product_id, session)
