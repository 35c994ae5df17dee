"""/v1/duplicates: offer groups and duplicate pairs found by cleaning; confirm or split."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from modiste.api.deps import ReadAccess, SessionDep, WriteKey
from modiste.api.ids import IdPath
from modiste.api.schemas import (
    DuplicateGroupPublic,
    DuplicateMemberPublic,
    DuplicatePage,
    image_urls,
    product_summary,
)
from modiste.catalog.lookups import images_by_ids, products_by_ids
from modiste.catalog.repository_dupes import list_groups, set_group_status
from modiste.catalog.schema import DuplicateGroup

router = APIRouter(prefix="/duplicates", tags=["duplicates"])


def groups_public(session: Session, groups: list[DuplicateGroup]) -> list[DuplicateGroupPublic]:
    members = [m for g in groups for m in g.members]
    products = products_by_ids(session, [m.product_id for m in members if m.product_id])
    images = images_by_ids(session, [m.image_id for m in members if m.image_id])
    out = []
    for g in groups:
        items = []
        for m in g.members:
            product = products.get(m.product_id) if m.product_id else None
            image = images.get(m.image_id) if m.image_id else None
            items.append(
                DuplicateMemberPublic(
                    product_id=m.product_id,
                    image_id=m.image_id,
                    score=m.score,
                    reason=m.reason,
                    product=product_summary(product) if product else None,
                    image_thumb_url=image_urls(image)[1] if image else None,
                )
            )
        out.append(DuplicateGroupPublic(id=g.id, kind=g.kind, status=g.status, members=items))
    return out


@router.get("", response_model=DuplicatePage)
def list_(
    session: SessionDep,
    _: ReadAccess,
    status: Literal["open", "confirmed", "split"] | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DuplicatePage:
    groups, total = list_groups(session, status=status, kind=kind, limit=limit, offset=offset)
    return DuplicatePage(total=total, items=groups_public(session, groups))


@router.post("/{group_id}/confirm", response_model=DuplicateGroupPublic)
def confirm(group_id: IdPath, session: SessionDep, _: WriteKey) -> DuplicateGroupPublic:
    """The members really are the same item (or the same offer)."""
    return groups_public(session, [set_group_status(session, group_id, "confirmed")])[0]


@router.post("/{group_id}/split", response_model=DuplicateGroupPublic)
def split(group_id: IdPath, session: SessionDep, _: WriteKey) -> DuplicateGroupPublic:
    """The members are different items: keep them apart."""
    return groups_public(session, [set_group_status(session, group_id, "split")])[0]
