"""URL fetches against hostile links and a hostile (loopback) server: forbidden addresses in
every spelling, redirects to them, slow drips, endless bodies, lying headers, silence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from modiste.config import Settings
from modiste.errors import FetchError
from modiste.pipeline.fetch import ImageFetcher

from .corpus import BAD_SCHEMES, FORBIDDEN_URLS, TUNNELLED_URLS, _photo, _save
from .server import HostileServer, Reply


def fetcher(tmp_path: Path, **kw: object) -> ImageFetcher:
    return ImageFetcher(Settings(data_dir=tmp_path, **kw))  # type: ignore[arg-type]


def allow(host: str, server: HostileServer) -> list[str]:
    """The allow-list entries for ``host`` on the test server's port (bare and HOST:PORT forms,
    so the test holds whether the list names hosts or hosts with ports)."""
    return [host, f"{host}:{server.port}"]


@pytest.mark.parametrize("url", [*FORBIDDEN_URLS, *BAD_SCHEMES])
def test_forbidden_links_refused_without_connecting(
    tmp_path: Path, connections: list[str], url: str
) -> None:
    with pytest.raises(FetchError) as info:
        fetcher(tmp_path).fetch(url)
    assert "Traceback" not in str(info.value)
    assert connections == []


@pytest.mark.parametrize("url", TUNNELLED_URLS)
def test_tunnelled_ipv4_refused_without_connecting(
    tmp_path: Path, connections: list[str], url: str
) -> None:
    try:
        fetcher(tmp_path, fetch_timeout_s=0.5).fetch(url)
    except FetchError as e:
        assert "refused" in str(e), str(e)
    assert connections == []


REDIRECT_TARGETS = [
    "http://127.0.0.1:{port}/img.png",
    "http://2130706433:{port}/img.png",
    "http://0x7f000001:{port}/img.png",
    "http://[::ffff:127.0.0.1]:{port}/img.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "file:///etc/passwd",
    "//127.0.0.1:{port}/img.png",  # scheme-relative
]


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
def test_redirects_to_forbidden_addresses_are_refused(
    tmp_path: Path, hostile_server: HostileServer, target: str
) -> None:
    """The first hop is allowed by name (localhost); where it redirects to is checked again."""
    png = _save(_photo(), "PNG")
    hostile_server.routes["/img.png"] = Reply(png)
    location = target.format(port=hostile_server.port)
    hostile_server.routes["/go"] = Reply(status=302, headers={"Location": location})
    f = fetcher(tmp_path, fetch_allowed_hosts=allow("localhost", hostile_server))
    try:
        with pytest.raises(FetchError):
            f.fetch(f"http://localhost:{hostile_server.port}/go")
    finally:
        f.close()
    assert "/img.png" not in hostile_server.hits


def test_redirect_loop_stops(tmp_path: Path, hostile_server: HostileServer) -> None:
    hostile_server.routes["/loop"] = Reply(status=301, headers={"Location": "/loop"})
    f = fetcher(tmp_path, fetch_allowed_hosts=allow("127.0.0.1", hostile_server))
    with pytest.raises(FetchError, match="redirects"):
        f.fetch(f"{hostile_server.base}/loop")
    f.close()
    assert len(hostile_server.hits) <= 6


@pytest.mark.parametrize(
    "reply, limits, reason",
    [
        (Reply(mode="drip", pause=0.1), {"fetch_deadline_s": 1.0}, "longer than"),
        (Reply(mode="silent"), {"fetch_timeout_s": 0.5}, "timed out"),
        (Reply(mode="endless"), {"fetch_max_bytes": 200_000}, "over the cap"),
        (
            Reply(b"\x89PNG", headers={"Content-Length": str(10**12)}),
            {"fetch_max_bytes": 200_000},
            "over the cap",
        ),
        (Reply(b"<html>not an image</html>"), {}, "not an image"),
        (Reply(b"", status=500), {}, "HTTP 500"),
        (Reply(b"x", headers={"Content-Length": "-5"}), {}, ""),
        (Reply(b"x", headers={"Content-Length": "abc"}), {}, ""),
    ],
    ids=["drip", "silent", "endless", "huge-length", "html", "500", "neg-length", "bad-length"],
)
def test_hostile_servers_end_in_a_clear_error(
    tmp_path: Path,
    hostile_server: HostileServer,
    reply: Reply,
    limits: dict[str, object],
    reason: str,
) -> None:
    hostile_server.routes["/a.jpg"] = reply
    limits = {"fetch_timeout_s": 2.0, **limits}
    f = fetcher(tmp_path, fetch_allowed_hosts=allow("127.0.0.1", hostile_server), **limits)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match=reason):
            f.fetch(f"{hostile_server.base}/a.jpg")
    finally:
        f.close()
    assert time.monotonic() - started < 5
