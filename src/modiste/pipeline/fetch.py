"""Getting image bytes from a feed's link: a URL (fetched safely) or a local file.

URL fetches refuse what an attacker could use a feed for (server-side request forgery):
loopback, private, link-local, multicast, reserved and cloud-metadata addresses, also when one
hides inside an IPv6 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64), checked on
every hop of a redirect chain, unless the host and port are on the ``fetch_allowed_hosts`` list
(``host`` allows its default ports 80 and 443 only, ``host:8080`` that port, ``host:*`` any).
The body is capped while streaming (a lying Content-Length doesn't help) and must *look* like an
image whatever its Content-Type says. A refusal names the reason but not the resolved address:
the message is stored with the image and shown by the API; the address goes to the log.

Known limit: the name is resolved for the check and again by the HTTP client, so a DNS server
that answers differently within that window (rebinding) is not caught, nor is a NAT64 gateway
with its own prefix (only the well-known 64:ff9b::/96 is looked into); put a filtering egress
proxy in front of Modiste if feeds come from untrusted parties.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from modiste.catalog.local_files import FileRoots, read_local_image
from modiste.config import Settings
from modiste.errors import ConfigError, FetchError
from modiste.imaging.decode import sniff_format

log = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
_METADATA_IPS = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_DEFAULT_PORTS = frozenset({80, 443})
# IPv6 forms that carry an IPv4 address (here: in the last 32 bits). Python's is_global does
# not look inside them (it calls 6to4 and NAT64 global), so 2002:7f00:1:: would reach 127.0.0.1.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: operator-local, never public
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    """Every IPv4 address ``ip`` carries, with the name of the form that carries it."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[tuple[ipaddress.IPv4Address, str]] = []
    if ip.ipv4_mapped is not None:
        found.append((ip.ipv4_mapped, "IPv4-mapped"))
    if ip.sixtofour is not None:
        found.append((ip.sixtofour, "6to4"))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [(server, "Teredo"), (client, "Teredo")]
    if ip in _NAT64:
        found.append((low32, "NAT64"))
    if ip in _IPV4_TRANSLATED:
        found.append((low32, "IPv4-translated"))
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves, not 0.0.0.x
        found.append((low32, "IPv4-compatible"))
    return found


def _refused_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner, form in _embedded_ipv4(ip):
            reason = _refused_reason(inner)
            if reason:
                return f"{reason}, embedded in an IPv6 address ({form})"
        if ip.ipv4_mapped is not None or ip in _NAT64:  # the IPv4 inside is where it goes
            return None
        if ip in _NAT64_LOCAL:
            return "a non-public address (local-use NAT64)"
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


def _normal_host(host: str) -> str:
    """Lower case, and an IP literal in its one canonical spelling (so FD00::0001 is fd00::1)."""
    host = host.strip().lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def parse_allowed_hosts(entries: list[str]) -> dict[str, frozenset[int] | None]:
    """``fetch_allowed_hosts`` as host -> allowed ports (None: any port).

    A bare host means its default ports (80, 443) only: allowing ``images.internal`` should
    not open its database or admin ports to whoever writes a feed. ``host:PORT`` allows that
    port (list the host twice for both), ``host:*`` any port; IPv6 as ``[fd00::5]:8080``.
    """
    allowed: dict[str, frozenset[int] | None] = {}
    for entry in entries:
        text = entry.strip().lower()
        host, port = text, ""
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if "]" not in text or (rest and not rest.startswith(":")):
                host = ""
            port = rest[1:]
        elif text.count(":") == 1:
            host, port = text.split(":")
        ports: frozenset[int] | None
        if port == "*":
            ports = None
        elif port.isdigit() and 0 < int(port) < 65536:
            ports = frozenset({int(port)})
        elif not port and not text.endswith(":"):
            ports = _DEFAULT_PORTS
        else:
            host = ""
        if not host:
            raise ConfigError(
                f"fetch_allowed_hosts: {entry!r} is not HOST, HOST:PORT or HOST:* "
                "(IPv6 as [ADDRESS]:PORT)"
            )
        key = _normal_host(host)
        before = allowed.get(key, frozenset())
        allowed[key] = None if before is None or ports is None else before | ports
    return allowed


class ImageFetcher:
    """Fetch image bytes for a feed link. Thread-safe; one instance per ingest run."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.fetch_timeout_s
        self.deadline = settings.fetch_deadline_s
        self.max_bytes = settings.fetch_max_bytes
        self.max_redirects = settings.fetch_max_redirects
        self.file_roots = FileRoots.for_fetch(settings)
        self.allowed_hosts = parse_allowed_hosts(settings.fetch_allowed_hosts)
        self._client = None

    def fetch(self, source: str) -> bytes:
        """Return the bytes behind ``source`` or raise :class:`FetchError` saying why not."""
        if is_url(source):
            data = self._fetch_url(source)
        elif source.lower().startswith("file://"):
            data = self._read_file(Path(unquote(urlsplit(source).path)))  # %20 -> " "
        elif "://" in source or source.lower().startswith(("data:", "javascript:")):
            raise FetchError(f"{source}: unsupported link scheme (use http(s) or a file path)")
        else:
            data = self._read_file(Path(source))
        if sniff_format(data[:16]) is None:
            raise FetchError(f"{source}: not an image (content does not match an allowed format)")
        return data

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- local files -------------------------------------------------------------------------
    def _read_file(self, path: Path) -> bytes:
        """Only inside the feed roots and never the data folder; every refusal reads the same
        (see :mod:`modiste.catalog.local_files`)."""
        return read_local_image(path, self.file_roots, self.max_bytes)

    # -- URLs ---------------------------------------------------------------------------------
    def allows(self, host: str, port: int) -> bool:
        """Whether the allow-list lets ``host`` (a name or an IP) be fetched on ``port``."""
        if (key := _normal_host(host)) not in self.allowed_hosts:
            return False
        ports = self.allowed_hosts[key]
        return ports is None or port in ports

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
        port = port or (443 if parts.scheme == "https" else 80)
        if self.allows(host, port):
            return
        if host in _METADATA_HOSTS:
            raise FetchError(f"{url}: refused, {host} is a cloud metadata host")
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as e:
            raise FetchError(f"{url}: cannot resolve host {host} ({e.strerror})") from e
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if self.allows(str(ip), port):
                continue
            reason = _refused_reason(ip)
            if reason:
                # The address stays in the log: the message is stored and shown to API clients.
                log.warning("fetch refused: %s resolves to %s, %s", host, ip, reason)
                named = f"[{host}]" if ":" in host else host
                hint = host if port in _DEFAULT_PORTS else f"{named}:{port}"
                raise FetchError(
                    f"{url}: refused, {host} resolves to {reason} "
                    f"(allow it with MODISTE_FETCH_ALLOWED_HOSTS='[\"{hint}\"]' if intended)"
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
