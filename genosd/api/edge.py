"""The API's edge: who the client is, what it may send before any key is looked up, and what was
refused — counted in /metrics and aggregated in the audit log, one row per client and minute.

Every request first spends a token of its client address's bucket (`api.client_rate_limit_*`).
A request without a valid key also spends one of the address's small unauthenticated budget
(`api.unauthenticated_*`); once that is empty, the address gets 429 before any key lookup, so
guessing keys or flooding with bad ones costs the daemon almost nothing. The client address is
the peer's, or, when the peer is one of `api.trusted_proxies`, the last address in
X-Forwarded-For that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from genosd import audit
from genosd.auth.ratelimit import RateLimiter
from genosd.errors import RateLimited
from genosd.settings_sections import ApiSettings
from genosd.statedb import StateDB, transaction

log = logging.getLogger(__name__)
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SAMPLES = 3  # request paths kept per aggregated audit row
SAMPLE_CHARS = 200


def _within(address: str, networks: list[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request, trusted: list[IpNetwork]) -> str:
    """The client's address, through trusted reverse proxies only."""
    remote = request.remote or "unknown"
    if not trusted or not _within(remote, trusted):
        return remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    chain = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(chain):  # the nearest hop a trusted proxy did not add is the client
        if not _within(hop, trusted):
            return hop[:64]
    return chain[0][:64] if chain else remote


def trusted_networks(entries: list[str]) -> list[IpNetwork]:
    """`api.trusted_proxies` as networks (validated by the settings model)."""
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


@dataclass
class _Tally:
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    first: float = field(default_factory=time.time)


class Refusals:
    """Refused requests: a Prometheus counter, and audit rows aggregated per actor and action."""

    def __init__(self, registry: CollectorRegistry):
        self.counter = Counter(
            "genosd_api_refused",
            "API requests refused before reaching a handler, by reason",
            ["reason"],
            registry=registry,
        )
        self._tallies: dict[tuple[str, str], _Tally] = {}

    def record(self, reason: str, *, actor: str, action: str, path: str, audited: bool) -> None:
        """Count one refusal; state-changing ones go to the audit log at the next flush."""
        self.counter.labels(reason).inc()
        if not audited:
            return
        tally = self._tallies.setdefault((actor[:128], action[:128]), _Tally())
        tally.count += 1
        tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
        if len(tally.paths) < SAMPLES:
            tally.paths.append(path[:SAMPLE_CHARS])

    async def flush(self, db: StateDB) -> None:
        """Write one audit row per actor and action seen since the last flush."""
        tallies, self._tallies = self._tallies, {}
        if tallies:
            await db.run(_write, tallies)


def _write(db: Any, tallies: dict[tuple[str, str], _Tally]) -> None:
    with transaction(db):
        for (actor, action), tally in tallies.items():
            audit.record(
                db,
                actor=actor,
                action=action,
                target=f"requests:{tally.count}",
                result="denied",
                details={
                    "count": tally.count,
                    "reasons": tally.reasons,
                    "sample_paths": tally.paths,
                    "since": tally.first,
                },
            )


class Edge:
    """The API's per-client limits and refusal tally; `configure()` applies new settings."""

    def __init__(self, settings: ApiSettings, registry: CollectorRegistry):
        self.client_limiter = RateLimiter(
            settings.client_rate_limit_per_minute, settings.client_rate_limit_burst
        )
        self.unauthenticated = RateLimiter(
            settings.unauthenticated_per_minute, settings.unauthenticated_burst
        )
        self.trusted: list[IpNetwork] = trusted_networks(settings.trusted_proxies)
        self.refusals = Refusals(registry)
        self.ws_pending: dict[str, int] = {}  # event streams waiting to authenticate, by address

    def configure(self, settings: ApiSettings) -> None:
        """New limits and proxies (a reload)."""
        self.client_limiter.per_minute = settings.client_rate_limit_per_minute
        self.client_limiter.burst = settings.client_rate_limit_burst
        self.unauthenticated.per_minute = settings.unauthenticated_per_minute
        self.unauthenticated.burst = settings.unauthenticated_burst
        self.trusted = trusted_networks(settings.trusted_proxies)


EDGE = web.AppKey("edge", Edge)
CLIENT = web.RequestKey("client", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def edge_of(request: web.Request) -> Edge:
    """The edge state (from sub-apps too: plugin routes)."""
    return request.config_dict[EDGE]


@web.middleware
async def client_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request spends a token of its client address (429 once they are gone)."""
    edge = edge_of(request)
    address = client_address(request, edge.trusted)
    request[CLIENT] = address
    try:
        edge.client_limiter.check(address)
    except RateLimited:
        edge.refusals.record(
            "client_rate_limited",
            actor=f"remote:{address}",
            action="any",
            path=request.path,
            audited=request.method not in ("GET", "HEAD"),
        )
        raise
    return await handler(request)
