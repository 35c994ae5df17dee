"""ImageFetcher: SSRF refusals without any connection, and real fetches from a loopback server.

The ``connections`` fixture fails the test if anything but a loopback address is contacted.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import LoopbackServer, Route, jpeg_bytes

from modiste.config import Settings
from modiste.errors import ConfigError, FetchError
from modiste.pipeline.fetch import ImageFetcher, _refused_reason

HTML = b"<!DOCTYPE html><html><body>Sorry, this page moved</body></html>"


def fetcher(tmp_path: Path, **kw: object) -> ImageFetcher:
    return ImageFetcher(Settings(data_dir=tmp_path, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/a.jpg", "loopback"),
        ("http://localhost:8080/a.jpg", "loopback"),
        ("http://10.1.2.3/a.jpg", "private"),
        ("http://192.168.0.10/a.jpg", "private"),
        ("http://172.16.5.4/a.jpg", "private"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata host"),
        ("http://[::1]/a.jpg", "loopback"),
        ("http://[::ffff:127.0.0.1]/a.jpg", "loopback"),
        ("http://[::ffff:10.0.0.1]/a.jpg", "private"),
        ("http://2130706433/a.jpg", "loopback"),  # 127.0.0.1 written as one number
        ("http://0.0.0.0/a.jpg", "refused"),
        ("http://224.0.0.1/a.jpg", "multicast"),
        ("http://100.64.0.1/a.jpg", "refused"),  # carrier-grade NAT: not public
        ("https://127.0.0.1:99999/a.jpg", "malformed"),
        ("ftp://files.example/a.jpg", "unsupported link scheme"),
        ("gopher://127.0.0.1:70/", "unsupported link scheme"),
        ("data:image/png;base64,iVBORw0KGgo=", "unsupported link scheme"),
        ("javascript:alert(1)", "unsupported link scheme"),
        # IPv4 hidden in IPv6 (Python's is_global calls 6to4 and NAT64 global)
        ("http://[2002:7f00:1::]/a.jpg", "loopback address, embedded in an IPv6 address .6to4"),
        ("http://[2002:a9fe:a9fe::1]/a.jpg", "cloud metadata address, embedded"),
        ("http://[2002:c0a8:1::]/a.jpg", "private address, embedded"),
        ("http://[64:ff9b::7f00:1]/a.jpg", "loopback address, embedded .* .NAT64"),
        ("http://[64:ff9b::a9fe:a9fe]/a.jpg", "cloud metadata address, embedded .* .NAT64"),
        ("http://[64:ff9b:1::a00:1]/a.jpg", "non-public"),  # local-use NAT64
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/a.jpg", "loopback.*Teredo"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/a.jpg", "refused"),  # Teredo, public
        ("http://[::127.0.0.1]/a.jpg", "loopback address, embedded .* .IPv4-compatible"),
        ("http://[::10.0.0.1]/a.jpg", "private address, embedded"),
        ("http://[::8.8.8.8]/a.jpg", "refused"),  # IPv4-compatible is deprecated: never fetched
        ("http://[::ffff:0:127.0.0.1]/a.jpg", "loopback.*IPv4-translated"),
        ("http://[::ffff:169.254.169.254]/a.jpg", "cloud metadata address"),
        ("http://[fe80::1%25eth0]/a.jpg", "link-local|cannot resolve"),
        # other spellings of 127.0.0.1 that resolvers accept
        ("http://0x7f.0.0.1/a.jpg", "loopback"),
        ("http://0177.0.0.1/a.jpg", "loopback"),
        ("http://127.1/a.jpg", "loopback"),
    ],
)
def test_refused_without_connecting(
    tmp_path: Path, connections: list[str], url: str, reason: str
) -> None:
    with pytest.raises(FetchError, match=reason):
        fetcher(tmp_path).fetch(url)
    assert connections == []


def test_check_url_refuses_redirect_targets(tmp_path: Path, connections: list[str]) -> None:
    f = fetcher(tmp_path, fetch_allowed_hosts=["127.0.0.1:1"])
    f.check_url("http://127.0.0.1:1/a.jpg")  # allowed: no error
    with pytest.raises(FetchError, match="only http and https"):
        f.check_url("file:///etc/passwd")
    with pytest.raises(FetchError, match="no host"):
        f.check_url("http:///a.jpg")
    assert connections == []


def test_allowed_loopback_server_is_fetched(
    tmp_path: Path, http_server: LoopbackServer, connections: list[str]
) -> None:
    photo = jpeg_bytes((200, 10, 10))
    http_server.routes["/a.jpg"] = Route(photo, headers={"Content-Type": "image/jpeg"})
    with pytest.raises(FetchError, match="loopback"):
        fetcher(tmp_path).fetch(f"{http_server.base}/a.jpg")
    assert http_server.hits == []
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow])
    try:
        assert f.fetch(f"{http_server.base}/a.jpg") == photo
        with pytest.raises(FetchError, match="HTTP 404"):
            f.fetch(f"{http_server.base}/missing.jpg")
    finally:
        f.close()
    assert set(connections) == {"127.0.0.1"}


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/a.jpg", "file:///etc/hostname"],
)
def test_redirect_hops_are_rechecked(
    tmp_path: Path, http_server: LoopbackServer, connections: list[str], target: str
) -> None:
    http_server.routes["/go"] = Route(status=302, headers={"Location": target})
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow])
    with pytest.raises(FetchError, match=r"refused|only http and https"):
        f.fetch(f"{http_server.base}/go")
    f.close()
    assert set(connections) == {"127.0.0.1"}
    assert http_server.hits == ["/go"]


def test_redirects_followed_then_capped(tmp_path: Path, http_server: LoopbackServer) -> None:
    photo = jpeg_bytes((1, 2, 3))
    http_server.routes["/old"] = Route(status=301, headers={"Location": "/new.jpg"})
    http_server.routes["/new.jpg"] = Route(photo)
    http_server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    http_server.routes["/nowhere"] = Route(status=302)
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow], fetch_max_redirects=3)
    try:
        assert f.fetch(f"{http_server.base}/old") == photo
        with pytest.raises(FetchError, match="more than 3 redirects"):
            f.fetch(f"{http_server.base}/loop")
        with pytest.raises(FetchError, match="redirect without a Location header"):
            f.fetch(f"{http_server.base}/nowhere")
    finally:
        f.close()
    assert http_server.hits.count("/loop") == 4


def test_size_cap(tmp_path: Path, http_server: LoopbackServer) -> None:
    big = jpeg_bytes((5, 5, 5)) + b"\0" * 50_000
    http_server.routes["/declared.jpg"] = Route(big)
    http_server.routes["/chunked.jpg"] = Route(big, chunked=True)
    http_server.routes["/small.jpg"] = Route(big[:10_000], chunked=True)
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow], fetch_max_bytes=20_000)
    try:
        with pytest.raises(FetchError, match="bytes is over the cap of 20,000"):
            f.fetch(f"{http_server.base}/declared.jpg")
        with pytest.raises(FetchError, match="body is over the cap of 20,000"):
            f.fetch(f"{http_server.base}/chunked.jpg")
        assert f.fetch(f"{http_server.base}/small.jpg") == big[:10_000]
    finally:
        f.close()


def test_timeout(tmp_path: Path, http_server: LoopbackServer) -> None:
    http_server.routes["/slow.jpg"] = Route(jpeg_bytes((0, 0, 0)), delay=1.0)
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow], fetch_timeout_s=0.2)
    with pytest.raises(FetchError, match=r"timed out after 0\.2 s"):
        f.fetch(f"{http_server.base}/slow.jpg")
    f.close()


def test_slow_drip_hits_the_total_deadline(tmp_path: Path, http_server: LoopbackServer) -> None:
    # Every 1 KB part comes well within the read timeout, but the whole body takes ~2 s.
    body = jpeg_bytes((0, 0, 0)) + b"\0" * 40_000
    http_server.routes["/drip.jpg"] = Route(body, chunked=True, drip=0.05)
    f = fetcher(
        tmp_path, fetch_allowed_hosts=[http_server.allow], fetch_timeout_s=1.0, fetch_deadline_s=0.5
    )
    try:
        with pytest.raises(FetchError, match=r"took longer than 0\.5 s in all"):
            f.fetch(f"{http_server.base}/drip.jpg")
    finally:
        f.close()


def test_html_with_image_content_type_is_refused(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    http_server.routes["/a.jpg"] = Route(HTML, headers={"Content-Type": "image/jpeg"})
    f = fetcher(tmp_path, fetch_allowed_hosts=[http_server.allow])
    with pytest.raises(FetchError, match="not an image"):
        f.fetch(f"{http_server.base}/a.jpg")
    f.close()


def test_local_files(tmp_path: Path) -> None:
    photo = jpeg_bytes((9, 9, 9))
    feed = tmp_path / "feed"  # not the data folder: a feed never reads that
    feed.mkdir()
    (feed / "a.jpg").write_bytes(photo)
    (feed / "page.jpg").write_bytes(HTML)
    (feed / "big.jpg").write_bytes(photo + b"\0" * 5000)
    f = ImageFetcher(Settings(data_dir=tmp_path / "data", fetch_max_bytes=len(photo) + 100))
    assert f.fetch(str(feed / "a.jpg")) == photo
    assert f.fetch(f"file://{feed / 'a.jpg'}") == photo  # file:// is a local path too
    (feed / "look: été 1.jpg").write_bytes(photo)
    assert f.fetch((feed / "look: été 1.jpg").as_uri()) == photo  # percent-encoded
    with pytest.raises(FetchError, match="not an image"):
        f.fetch(str(feed / "page.jpg"))
    with pytest.raises(FetchError, match="file not found"):
        f.fetch(str(feed / "missing.jpg"))
    with pytest.raises(FetchError, match=r"file not found or unreadable .Is a directory"):
        f.fetch(str(feed))
    with pytest.raises(FetchError, match="over the cap"):
        f.fetch(str(feed / "big.jpg"))
    with pytest.raises(FetchError, match="inside the data folder"):
        f.fetch(str(tmp_path / "data" / "x.jpg"))


@pytest.mark.parametrize(
    "address",
    ["2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8", "8.8.8.8", "2606:4700::1111"],
)
def test_public_addresses_pass(address: str) -> None:
    assert _refused_reason(ipaddress.ip_address(address)) is None


def _resolving_to(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def fake(host: str, port: int, *args: object, **kw: object) -> list[tuple[Any, ...]]:
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_refusal_names_the_reason_not_the_resolved_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The message is stored with the image and shown by the API: the address goes to the log."""
    _resolving_to(monkeypatch, "10.20.30.40")
    with pytest.raises(FetchError) as err, caplog.at_level("WARNING"):
        fetcher(tmp_path).check_url("http://images.example.com/a.jpg")
    assert "private address" in str(err.value)
    assert "10.20.30.40" not in str(err.value)
    assert "10.20.30.40" in caplog.text
    _resolving_to(monkeypatch, "2002:7f00:1::")
    with pytest.raises(FetchError, match="loopback") as err:
        fetcher(tmp_path).check_url("http://images.example.com/a.jpg")
    assert "2002" not in str(err.value) and "127.0.0.1" not in str(err.value)


def test_allow_list_is_per_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare host allows its default ports only; host:PORT that port; host:* any port."""
    _resolving_to(monkeypatch, "10.0.0.5")
    bare = fetcher(tmp_path, fetch_allowed_hosts=["Images.Internal"])
    bare.check_url("http://images.internal/a.jpg")
    bare.check_url("https://images.internal/a.jpg")
    bare.check_url("https://images.internal:80/a.jpg")
    for port in (6379, 8080, 22):
        with pytest.raises(FetchError, match=rf"private address .*images.internal:{port}"):
            bare.check_url(f"http://images.internal:{port}/a.jpg")
    one = fetcher(tmp_path, fetch_allowed_hosts=["images.internal:8080", "[FD00::5]:9000"])
    one.check_url("http://images.internal:8080/a.jpg")
    with pytest.raises(FetchError, match="private"):  # host:PORT is that port only
        one.check_url("http://images.internal/a.jpg")
    one.check_url("http://[fd00::5]:9000/a.jpg")
    with pytest.raises(FetchError, match="private"):
        one.check_url("http://images.internal:8081/a.jpg")
    with pytest.raises(FetchError, match="private"):
        one.check_url("http://[fd00::5]:9001/a.jpg")
    anyport = fetcher(tmp_path, fetch_allowed_hosts=["images.internal:*"])
    anyport.check_url("http://images.internal:6379/a.jpg")
    # an allowed IP also allows a name that resolves to it, on the same ports
    by_ip = fetcher(tmp_path, fetch_allowed_hosts=["10.0.0.5"])
    by_ip.check_url("http://cdn.example.com/a.jpg")
    with pytest.raises(FetchError, match="private"):
        by_ip.check_url("http://cdn.example.com:8443/a.jpg")


@pytest.mark.parametrize("entry", ["host:port", "host:0", "host:70000", "host:", "[fd00::1", ""])
def test_bad_allow_list_entry_is_a_clear_error(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match=r"fetch_allowed_hosts: .* is not HOST, HOST:PORT"):
        fetcher(tmp_path, fetch_allowed_hosts=[entry])
