"""Two writers meeting a new seller at once (an import and API creates) both get its one row."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modiste.catalog.db import Database
from modiste.catalog.repository import seller_id_for
from modiste.catalog.schema import ProductRow, Seller
from modiste.catalog.service import create_product


def test_a_seller_created_between_lookup_and_insert_is_read_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as other:
        other.add(Seller(name="Shop"))
        other.commit()
    with db.session() as s:
        # The race, made deterministic: this writer's lookup ran before the other's commit.
        real = Session.scalar
        calls = {"n": 0}

        def first_lookup_misses(self: Session, *a: Any, **kw: Any) -> Any:
            calls["n"] += 1
            return None if calls["n"] == 1 else real(self, *a, **kw)

        monkeypatch.setattr(Session, "scalar", first_lookup_misses)
        seller_id = seller_id_for(s, "Shop")
        monkeypatch.undo()
        s.commit()
    with db.session() as s:
        (only,) = s.scalars(select(Seller).where(Seller.name == "Shop")).all()
        assert only.id == seller_id


def test_concurrent_creates_for_one_new_seller_all_succeed(db: Database) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def create(i: int) -> None:
        try:
            start.wait()
            with db.session() as s:
                create_product(s, "New shop", f"sku-{i}", {"title": f"Coat {i}"}, [])
                s.commit()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Seller)) == 1
        assert s.scalar(select(func.count()).select_from(ProductRow)) == 4
