"""Duplicate and offer groups as the cleaning stages stored them, and a person's verdict."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from modiste.catalog.schema import DuplicateGroup, DuplicateMember, ProductRow
from modiste.errors import ConfigError, NotFoundError

STATUSES = ("open", "confirmed", "split")


def list_groups(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DuplicateGroup], int]:
    """Groups with their members, open ones first, newest first within a status."""
    query = select(DuplicateGroup)
    if status:
        query = query.where(DuplicateGroup.status == status)
    if kind:
        query = query.where(DuplicateGroup.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(DuplicateGroup.members))
        .order_by((DuplicateGroup.status != "open"), DuplicateGroup.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def set_group_status(session: Session, group_id: int, status: str) -> DuplicateGroup:
    if status not in STATUSES:
        raise ConfigError(f"unknown group status {status!r}; valid: {', '.join(STATUSES)}")
    group = session.get(DuplicateGroup, group_id, options=(selectinload(DuplicateGroup.members),))
    if group is None:
        raise NotFoundError(f"no duplicate group {group_id}")
    group.status = status
    session.flush()
    return group


def other_offers(session: Session, product_id: int) -> list[ProductRow]:
    """The same item sold by other shops: the product's offer groups' other members.

    Similar items leave these out (they are the same item, not alternatives), so the product
    page lists them on their own; a group a person split is no offer group any more.
    """
    groups = (
        select(DuplicateMember.group_id)
        .join(DuplicateGroup)
        .where(
            DuplicateMember.product_id == product_id,
            DuplicateGroup.kind == "offer",
            DuplicateGroup.status != "split",
        )
    )
    others = select(DuplicateMember.product_id).where(
        DuplicateMember.group_id.in_(groups), DuplicateMember.product_id != product_id
    )
    rows = session.scalars(
        select(ProductRow)
        .where(ProductRow.id.in_(others))
        .options(selectinload(ProductRow.seller), selectinload(ProductRow.images))
        .order_by(ProductRow.price.is_(None), ProductRow.price, ProductRow.id)
    )
    return list(rows)
