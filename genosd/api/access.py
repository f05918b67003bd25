"""Who may call what: API key check, role check, per-key rate limit, and error bodies.

Every endpoint with a role needs `Authorization: Bearer <key>` or `X-API-Key: <key>`. Refusals are
counted in /metrics; state-changing ones are aggregated in the audit log ("denied", one row per
client and minute with a count and sample paths), so probing leaves a trace without letting a
flood grow the log (see genosd.api.edge).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from genosd.api.context import runtime_of
from genosd.api.edge import CLIENT, Edge, edge_of
from genosd.app.runtime import Runtime
from genosd.auth.keys import ApiKey, active_prefixes, prefix_of, touch_key, verify_key
from genosd.endpoints import Endpoint
from genosd.errors import (
    AccessError,
    AuthenticationError,
    PermissionDenied,
    RateLimited,
)

log = logging.getLogger(__name__)
TOUCH_EVERY = 60.0  # seconds between last_used_at writes for one key


KEY_PROTOCOL = "genosd.key."  # a browser's WebSocket offers its key as this subprotocol


def presented_key(request: web.Request) -> str | None:
    """The API key the caller sent, if any: `Authorization: Bearer`, `X-API-Key`, or (a
    browser's WebSocket, which cannot set headers) the subprotocol `genosd.key.<key>`."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"]
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(KEY_PROTOCOL) and len(offered) > len(KEY_PROTOCOL):
            return offered[len(KEY_PROTOCOL) :]
    return None


async def resolve_key(runtime: Runtime, secret: str) -> ApiKey:
    """The active key for `secret`, from the short-lived cache or the state database."""
    key = runtime.key_cache.get(secret)
    if key is None:
        key = await runtime.core.db.run(verify_key, secret)
        runtime.key_cache.put(secret, key)
    return key


async def authorize(request: web.Request, endpoint: Endpoint) -> ApiKey | None:
    """The caller's key if it may call `endpoint`; raises AccessError otherwise."""
    if endpoint.role is None:
        return None
    runtime, edge = runtime_of(request), edge_of(request)
    address = request.get(CLIENT) or request.remote or "unknown"
    secret = presented_key(request)
    key: ApiKey | None = None
    try:
        await refuse_guessers(runtime, edge, address, secret)
        if secret is None:
            raise AuthenticationError("an API key is required (Authorization: Bearer <key>)")
        key = await resolve_key(runtime, secret)
        if not key.role.allows(endpoint.role):
            raise PermissionDenied(
                f"{endpoint.method} {endpoint.path} needs role {endpoint.role.value}; "
                f"this key has {key.role.value}"
            )
    except AccessError as exc:
        if isinstance(exc, AuthenticationError):
            edge.unauthenticated.spend(address)
        edge.refusals.record(
            _REASONS.get(type(exc), "refused"),
            actor=key.principal if key is not None else f"remote:{address}",
            action=endpoint.operation_id,
            path=request.path,
            audited=endpoint.mutating,
        )
        raise
    runtime.limiter.check(key.prefix)
    now = time.time()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        await runtime.core.db.run(touch_key, key.id, now)
    return key


_REASONS: dict[type[AccessError], str] = {
    AuthenticationError: "unauthorized",
    PermissionDenied: "forbidden",
    RateLimited: "unauthenticated_rate_limited",
}


async def refuse_guessers(runtime: Runtime, edge: Edge, address: str, secret: str | None) -> None:
    """RateLimited, without a key lookup, for an address that spent its unauthenticated budget.

    A key that exists (its prefix is among the live keys' prefixes, read at most every 10 s) is
    still looked up, so a client behind the same NAT as a key guesser keeps working.
    """
    wait = edge.unauthenticated.exhausted(address)
    if wait is None:
        return
    cache = runtime.key_cache
    if secret is not None and cache.get(secret) is not None:
        return
    if secret is not None and cache.prefixes_stale():
        cache.prefixes = await runtime.core.db.run(active_prefixes)
        cache.prefixes_at = time.monotonic()
    if secret is not None and prefix_of(secret) in cache.prefixes:
        return
    raise RateLimited(
        "too many requests without a valid API key from this address", retry_after=wait
    )
