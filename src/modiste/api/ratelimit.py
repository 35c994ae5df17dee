"""Rate limits on the expensive routes (photo search, gallery sort, ingest jobs): 429 with
``Retry-After`` once a client has used its allowance.

A token bucket per route and client: ``api_rate_limit_burst`` requests at once, refilled at
``api_rate_limit_per_minute``. The client is the API key when the request carries a valid one
(a shop's backend serves many shoppers from one address; it gets ``api_rate_limit_key_per_minute``),
else the address (an IPv6 address by its /64, which one machine usually holds whole). Behind a
reverse proxy the address must be the shopper's, not the proxy's: uvicorn takes it from
``X-Forwarded-For`` when the proxy's address is in ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1).

The buckets live in this process: with several replicas each one counts on its own, so the
effective limit is the setting times the replicas; a shared store (Redis...) would be needed
for one limit across them.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from modiste.api.problems import TooManyRequests
from modiste.api.security import known_key
from modiste.config import Settings


class TokenBuckets:
    """One bucket per client name, the least recently seen forgotten past ``max_clients`` (so a
    flood of addresses costs bounded memory; a forgotten client starts with a full bucket)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one token: 0 when allowed, else the seconds until a token is there."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def client_address(request: Request) -> str:
    """The caller's address; IPv6 by its /64 (one host can hold a whole /64)."""
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if not key and scheme.lower() == "bearer":
        key = credentials.strip()
    return key or None


class RateLimits:
    """Every route's buckets for one app (kept on ``app.state.rate_limits``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._buckets: dict[tuple[str, str], TokenBuckets] = {}
        self._lock = threading.Lock()

    def _bucket(self, route: str, kind: str) -> TokenBuckets:
        with self._lock:
            if (route, kind) not in self._buckets:
                s = self.settings
                per_key = kind == "key"
                rate = s.api_rate_limit_key_per_minute if per_key else s.api_rate_limit_per_minute
                self._buckets[route, kind] = TokenBuckets(rate, s.api_rate_limit_burst)
            return self._buckets[route, kind]

    def check(self, route: str, request: Request) -> None:
        """Raise :class:`TooManyRequests` when this request's client has no token left."""
        if self.settings.api_rate_limit_per_minute <= 0:
            return
        kind, client = "address", client_address(request)
        key = presented_key(request)
        if key is not None:
            info = known_key(request, key)
            if info is not None:  # an invalid key counts against the address
                kind, client = "key", f"key {info.id}"
        if kind == "key" and self.settings.api_rate_limit_key_per_minute <= 0:
            return
        wait = self._bucket(route, kind).take(client)
        if wait > 0:
            per = "API key" if kind == "key" else "client address"
            raise TooManyRequests(
                f"too many {route} requests from this {per}; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )


_CHECKED = "modiste.rate_limit_checked"


class RateLimit:
    """The dependency a route declares (list the route in problems.RATE_LIMITED too, which
    documents its 429 in the OpenAPI schema).

    The body-size guard (:mod:`modiste.api.route_policy`) runs :meth:`before_body` before the
    upload is read, so a client over its allowance costs no body; the dependency itself then only
    covers a request that did not pass through the guard.
    """

    def __init__(self, route: str) -> None:
        self.route = route

    def before_body(self, request: Request) -> None:
        limits: RateLimits = request.app.state.rate_limits
        limits.check(self.route, request)
        request.scope[_CHECKED] = True  # one token per request, not one per check

    def __call__(self, request: Request) -> None:
        if not request.scope.get(_CHECKED):
            self.before_body(request)


def rate_limited(route: str) -> Any:
    """``dependencies=[rate_limited("photo search")]`` on a route's decorator."""
    return Depends(RateLimit(route))
