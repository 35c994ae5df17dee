"""Errors on the search page in people's words, and inputs limited in the page (issue #14
item 14), in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.support import DEMO

pytestmark = pytest.mark.browser

PHOTO = str(DEMO / "images" / "wj01-red_main.jpg")


def _uploads(pg: Any) -> list[str]:
    sent: list[str] = []
    pg.on("request", lambda r: sent.append(r.url) if "/v1/search/image" in r.url else 0)
    return sent


def test_too_long_words_are_said_in_words(page: Any, test_output_dir: Path) -> None:
    assert page.goto("/") is not None
    assert page.get_attribute("#q", "maxlength") == "200"
    page.goto("/?q=" + "x" * 250)  # a link can carry more than the box takes
    page.wait_for_selector("#results-note:has-text('too long')")
    assert page.inner_text("#results-note") == (
        "The search text is too long: 200 characters at most."
    )
    page.screenshot(path=str(test_output_dir / "ui-search-error-long.png"), full_page=False)


def test_a_file_that_is_not_a_photo_is_refused_in_the_page(page: Any) -> None:
    sent = _uploads(page)
    page.goto("/")
    accept = page.get_attribute("#photo", "accept")
    assert accept is not None and "image/jpeg" in accept and "*" not in accept
    page.set_input_files(
        "#photo", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    page.wait_for_selector("#results-note:has-text('is not a photo')")
    assert page.locator("#photo-panel").is_hidden()
    assert sent == []


def test_a_photo_over_the_cap_is_refused_before_upload(page: Any) -> None:
    sent = _uploads(page)
    page.goto("/")
    assert page.get_attribute("#photo", "data-max-bytes") == str(15 * 1024 * 1024)
    page.eval_on_selector("#photo", "p => { p.dataset.maxBytes = '2048'; }")  # a tiny cap
    page.set_input_files("#photo", PHOTO)
    page.wait_for_selector("#results-note:has-text('can be searched')")
    note = page.inner_text("#results-note")
    assert note.endswith("photos up to 2 KB can be searched."), note
    assert sent == []


def test_a_photo_the_server_cannot_read_leaves_no_broken_image(
    page: Any, test_output_dir: Path
) -> None:
    page.goto("/")
    page.set_input_files(
        "#photo",
        files=[{"name": "bad.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 not a jpeg"}],
    )
    page.wait_for_selector("#results-note:has-text('could not be read as a photo')")
    assert page.locator("#photo-panel").is_hidden()
    page.screenshot(path=str(test_output_dir / "ui-search-error-bad-photo.png"), full_page=False)


def test_the_server_size_cap_in_words(page: Any) -> None:
    body = {
        "type": "https://modiste.dev/problems/payload-too-large",
        "status": 413,
        "title": "Content Too Large",
        "detail": "a.jpg is larger than 15728640 bytes",
    }

    page.route(
        "**/v1/search/image",
        lambda route: route.fulfill(
            status=413, content_type="application/problem+json", body=json.dumps(body)
        ),
    )
    page.goto("/")
    page.set_input_files("#photo", PHOTO)
    page.wait_for_selector("#results-note:has-text('too large')")
    assert page.inner_text("#results-note") == "That photo is too large to search: 15 MB at most."
    assert page.locator("#photo-panel").is_hidden()
