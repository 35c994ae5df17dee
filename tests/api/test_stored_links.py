"""A shop link stored before links were checked (javascript:, data:) is never rendered."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modiste.catalog.schema import ProductRow


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.domain)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>x</script>",
    ],
)
def test_an_unsafe_stored_link_is_not_rendered(client: TestClient, link: str) -> None:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        product = s.scalars(select(ProductRow).order_by(ProductRow.id)).first()
        assert product is not None
        product.link, pid = link, product.id
    page = client.get(f"/products/{pid}")
    assert page.status_code == 200
    assert "Shop page" not in page.text
    assert not any(bit in page.text for bit in ("alert", "data:text", "<script>x"))
    assert client.get(f"/v1/products/{pid}").json()["link"] is None


def test_a_safe_link_is_rendered(client: TestClient) -> None:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        product = s.scalars(select(ProductRow).order_by(ProductRow.id)).first()
        assert product is not None
        product.link, pid = "https://shop.example/p?a=1&b=2", product.id
    page = client.get(f"/products/{pid}").text
    assert 'href="https://shop.example/p?a=1&amp;b=2" rel="noopener noreferrer">Shop page' in page
    assert client.get(f"/v1/products/{pid}").json()["link"] == "https://shop.example/p?a=1&b=2"
