"""Getting image bytes from a feed's link: a URL (fetched safely) or a local file.

URL fetches refuse what an attacker could use a feed for (server-side request forgery):
loopback, private, link-local, multicast, reserved and cloud-metadata addresses, checked on
every hop of a redirect chain, unless the host is on the ``fetch_allowed_hosts`` list. The body
is capped while streaming (a lying Content-Length doesn't help) and must *look* like an image
whatever its Content-Type says.

Known limit: the name is resolved for the check and again by the HTTP client, so a DNS server
that answers differently within that window (rebinding) is not caught; put a filtering egress
proxy in front of Modiste if feeds come from untrusted parties.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from modiste.config import Settings
from modiste.errors import FetchError
from modiste.imaging.decode import sniff_format

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
_METADATA_IPS = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def _refused_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    for attr, what in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_unspecified", "an unspecified address"),
    ):
        if getattr(ip, attr):
            return what
    if not ip.is_global:
        return "a non-public address"
    return None


class ImageFetcher:
    """Fetch image bytes for a feed link. Thread-safe; one instance per ingest run."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.fetch_timeout_s
        self.deadline = settings.fetch_deadline_s
        self.max_bytes = settings.fetch_max_bytes
        self.max_redirects = settings.fetch_max_redirects
        self.allowed_hosts = {h.lower() for h in settings.fetch_allowed_hosts}
        self._client = None

    def fetch(self, source: str) -> bytes:
        """Return the bytes behind ``source`` or raise :class:`FetchError` saying why not."""
        if is_url(source):
            data = self._fetch_url(source)
        elif source.lower().startswith("file://"):
            data = self._read_file(Path(unquote(urlsplit(source).path)), source)  # %20 -> " "
        elif "://" in source or source.lower().startswith(("data:", "javascript:")):
            raise FetchError(f"{source}: unsupported link scheme (use http(s) or a file path)")
        else:
            data = self._read_file(Path(source), source)
        if sniff_format(data[:16]) is None:
            raise FetchError(f"{source}: not an image (content does not match an allowed format)")
        return data

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- local files -------------------------------------------------------------------------
    def _read_file(self, path: Path, label: str) -> bytes:
        try:
            size = path.stat().st_size
        except OSError as e:
            raise FetchError(f"{label}: file not found or unreadable ({e.strerror or e})") from e
        if not path.is_file():
            raise FetchError(f"{label}: not a regular file")
        if size > self.max_bytes:
            raise FetchError(f"{label}: {size:,} bytes is over the cap of {self.max_bytes:,}")
        return path.read_bytes()

    # -- URLs ---------------------------------------------------------------------------------
    def check_url(self, url: str) -> None:
        """Raise FetchError if ``url`` points somewhere we must not go."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:  # bad port or bracketed host
            raise FetchError(f"{url}: malformed link ({e})") from e
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https links are fetched")
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchError(f"{url}: no host in link")
        if host in self.allowed_hosts:
            return
        if host in _METADATA_HOSTS:
            raise FetchError(f"{url}: refused, {host} is a cloud metadata host")
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror as e:
            raise FetchError(f"{url}: cannot resolve host {host} ({e.strerror})") from e
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if str(ip) in self.allowed_hosts:
                continue
            reason = _refused_reason(ip)
            if reason:
                raise FetchError(
                    f"{url}: refused, {host} resolves to {ip}, {reason} "
                    "(allow it with MODISTE_FETCH_ALLOWED_HOSTS if intended)"
                )

    def _http(self):  # type: ignore[no-untyped-def]
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                timeout=self.timeout,
                follow_redirects=False,  # each hop is checked by hand
                trust_env=False,
                headers={"User-Agent": "Modiste/0.1 (+catalog image fetch)"},
            )
        return self._client

    def _fetch_url(self, url: str) -> bytes:
        import httpx

        current = url
        end = time.monotonic() + self.deadline
        for _hop in range(self.max_redirects + 1):
            self._check_deadline(url, end)
            self.check_url(current)
            try:
                with self._http().stream("GET", current) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise FetchError(f"{url}: redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        raise FetchError(f"{url}: HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.max_bytes:
                        raise FetchError(
                            f"{url}: {int(declared):,} bytes is over the cap of {self.max_bytes:,}"
                        )
                    chunks: list[bytes] = []
                    total = 0
                    for chunk in resp.iter_bytes():
                        self._check_deadline(url, end)
                        total += len(chunk)
                        if total > self.max_bytes:
                            raise FetchError(
                                f"{url}: body is over the cap of {self.max_bytes:,} bytes"
                            )
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException as e:
                raise FetchError(f"{url}: timed out after {self.timeout:g} s") from e
            except httpx.HTTPError as e:
                raise FetchError(f"{url}: {type(e).__name__}: {e}") from e
        raise FetchError(f"{url}: more than {self.max_redirects} redirects")

    def _check_deadline(self, url: str, end: float) -> None:
        if time.monotonic() > end:
            raise FetchError(f"{url}: took longer than {self.deadline:g} s in all (slow server)")
