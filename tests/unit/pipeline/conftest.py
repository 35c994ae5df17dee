"""Fixtures for pipeline tests: a loopback HTTP server, a guard that no address but loopback is
contacted, a migrated database, and small product feeds with generated images."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pipeline_helpers import LoopbackServer, jpeg_bytes


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


FeedMaker = Callable[..., Path]


@pytest.fixture
def make_feed(tmp_path: Path) -> FeedMaker:
    """Write ``n`` products with two local images each (the second of every 4th product is
    shared with the previous product, so the store sees duplicates) plus any ``extra`` rows."""

    def make(n: int = 6, extra: list[tuple[str, str]] | None = None) -> Path:
        folder = tmp_path / "feed"
        (folder / "img").mkdir(parents=True, exist_ok=True)
        lines = ["id,title,image_link,additional_image_link"]
        for i in range(n):
            front = folder / "img" / f"p{i}-front.jpg"
            front.write_bytes(jpeg_bytes((i * 37 % 256, 90, 200)))
            back = f"img/p{i - 1}-back.jpg" if i % 4 == 3 else f"img/p{i}-back.jpg"
            if i % 4 != 3:
                (folder / back).write_bytes(jpeg_bytes((10, i * 53 % 256, 40)))
            lines.append(f"p{i},Product {i},img/p{i}-front.jpg,{back}")
        for pid, link in extra or []:
            lines.append(f"{pid},Extra {pid},{link},")
        feed = folder / "feed.csv"
        feed.write_text("\n".join(lines) + "\n")
        return feed

    return make
