"""Shopper pages speak to shoppers: no internal names, prices in their currency (#14 item 13)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from modiste.web.labels import format_price, shot_name

HTML = {"accept": "text/html"}


def test_prices_and_shot_names() -> None:
    assert format_price(79.0, "USD") == "$79.00" and format_price(1299, "jpy") == "¥1,299"
    assert format_price(35, "EUR") == "€35.00" and format_price(-5, "GBP") == "-£5.00"
    assert format_price(12.5, "CHF") == "CHF 12.50" and format_price(12.5, None) == "12.50"
    assert format_price(None, "USD") == ""
    assert shot_name("near_front") == "Front" and shot_name("wash_tag") == "Care label"
    assert shot_name("unknown") == "" and shot_name("my_new_class") == "My new class"


def test_product_page_has_no_internal_names(client: TestClient) -> None:
    item = client.get("/v1/products", params={"q": "Stellar"}).json()["items"]
    luma = next(p for p in item if p["price"] == 79.0)
    page = client.get(f"/products/{luma['id']}", headers=HTML).text
    assert '<p class="price">$79.00</p>' in page
    assert "Feed id" not in page and luma["external_id"] not in page
    shown = re.sub(r"<[^>]+>", " ", page)  # what a person reads (not attributes, not ids)
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", shown), re.findall(r"\b[a-z]+_[a-z_]+\b", shown)
    # The gallery review link is for staff: hidden unless the browser holds a key.
    assert re.search(r'<a class="btn staff-only" href="/review/\d+" hidden>', page)
