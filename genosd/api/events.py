"""`GET /api/v1/events`: the live event stream over WebSocket.

Protocol (JSON text frames; see docs/api.md):
  client → server  {"type": "auth", "key": "gnd_…"}        (when no key was sent with the upgrade)
                   {"type": "subscribe", "topics": [...], "devices": ["glob", ...]}
                   {"type": "unsubscribe", "topics": [...]}
                   {"type": "ping"}
  server → client  welcome, subscribed, event, heartbeat, pong, error

The key is checked again on every client message and on every heartbeat, so a revoked or expired key
loses the stream within one heartbeat. Each topic names the least role that may subscribe. A client
that cannot keep up is disconnected (close code 4409) instead of being buffered for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from genosd.api.access import presented_key, refuse_guessers, resolve_key
from genosd.api.context import WEBSOCKETS, runtime_of
from genosd.api.edge import CLIENT, Edge, edge_of
from genosd.app.runtime import Runtime
from genosd.auth.keys import ApiKey
from genosd.endpoints import validation_details
from genosd.errors import AuthenticationError, PermissionDenied, RateLimited
from genosd.events import Subscription
from genosd.settings_sections import ApiSettings

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_SLOW_CONSUMER = 4409
CLOSE_TRY_AGAIN = 1013


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthMessage(_Message):
    """Authenticate a stream opened without a key header (browsers cannot set headers)."""

    type: Literal["auth"]
    key: str


class SubscribeMessage(_Message):
    """Add topics, optionally only for devices matching shell-style globs."""

    type: Literal["subscribe"]
    topics: list[str] = Field(min_length=1, max_length=64)
    devices: list[str] = Field(default_factory=list, max_length=256)


class UnsubscribeMessage(_Message):
    """Remove topics."""

    type: Literal["unsubscribe"]
    topics: list[str] = Field(min_length=1, max_length=64)


class PingMessage(_Message):
    """Ask for a pong (an application-level liveness check)."""

    type: Literal["ping"]


ClientMessage = Annotated[
    AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage, Field(discriminator="type")
]
_PARSER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def own_origins(settings: ApiSettings) -> list[str]:
    """The origins of the configured listen address (never the request's Host header, which a
    DNS-rebinding page controls); none for a wildcard address."""
    if settings.host in ("", "0.0.0.0", "::"):
        return []
    scheme = "https" if settings.tls_cert else "http"
    hosts = [settings.host, "localhost"] if settings.host == "127.0.0.1" else [settings.host]
    return [f"{scheme}://{host}:{settings.port}" for host in hosts]


def _count_refusal(edge: Edge, reason: str, address: str) -> None:
    """Count a refused event stream (an upgrade is not state-changing: never audited)."""
    edge.refusals.record(reason, actor=f"remote:{address}", action="events", path="", audited=False)


def origin_allowed(request: web.Request, settings: ApiSettings) -> bool:
    """No Origin (not a browser), the configured API origin, or one of api.allowed_origins."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = [*settings.allowed_origins, *own_origins(settings)]
    return "*" in allowed or origin.rstrip("/") in (a.rstrip("/") for a in allowed)


class _Stream:
    """One connected client."""

    def __init__(self, runtime: Runtime, ws: web.WebSocketResponse, sub: Subscription):
        self.runtime = runtime
        self.ws = ws
        self.sub = sub
        self.secret: str | None = None
        self.key: ApiKey | None = None

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_json({"type": kind, **fields})

    async def error(self, code: str, message: str, details: Any = None) -> None:
        await self.send("error", code=code, message=message, details=details)

    async def authenticate(self, secret: str) -> ApiKey:
        """(Re-)verify the key; raises AuthenticationError."""
        key = await resolve_key(self.runtime, secret)
        self.secret, self.key = secret, key
        return key

    async def welcome(self, key: ApiKey) -> None:
        await self.send(
            "welcome",
            principal=key.principal,
            role=key.role.value,
            heartbeat=self.runtime.core.settings.api.ws_heartbeat,
            topics=[
                {
                    "name": t.name,
                    "role": t.role.value,
                    "description": t.description,
                    "allowed": key.role.allows(t.role),
                }
                for t in self.runtime.events.topics.values()
            ],
        )

    async def handle(self, message: ClientMessage) -> None:
        """Apply one client message (after its key was re-checked)."""
        assert self.key is not None
        if isinstance(message, AuthMessage):
            await self.error("invalid_request", "already authenticated")
        elif isinstance(message, PingMessage):
            await self.send("pong")
        elif isinstance(message, SubscribeMessage):
            topics = self.runtime.events.topics
            unknown = [t for t in message.topics if t not in topics]
            if unknown:
                await self.error(
                    "unknown_topic",
                    f"unknown topics: {', '.join(unknown)}",
                    {"known": sorted(topics)},
                )
                return
            denied = [t for t in message.topics if not self.key.role.allows(topics[t].role)]
            if denied:
                raise PermissionDenied(
                    f"topics {', '.join(denied)} need a higher role than {self.key.role.value}"
                )
            self.sub.topics.update(message.topics)
            if message.devices:
                self.sub.devices = list(message.devices)
            await self.send("subscribed", topics=sorted(self.sub.topics), devices=self.sub.devices)
        else:
            self.sub.topics.difference_update(message.topics)
            await self.send("subscribed", topics=sorted(self.sub.topics), devices=self.sub.devices)


async def _receive_auth(ws: web.WebSocketResponse, timeout: float) -> str:
    """The key of the first message, which must be an auth message (within `timeout`)."""
    msg = await ws.receive(timeout=timeout)
    if msg.type != WSMsgType.TEXT:
        raise AuthenticationError("the first message must be {'type': 'auth', 'key': …}")
    try:
        parsed = _PARSER.validate_json(msg.data)
    except ValidationError:
        parsed = None
    if not isinstance(parsed, AuthMessage):
        raise AuthenticationError("the first message must be {'type': 'auth', 'key': …}")
    return parsed.key


async def _writer(stream: _Stream) -> None:
    """Forward queued events; send a heartbeat (and re-check the key) when idle."""
    interval = stream.runtime.core.settings.api.ws_heartbeat
    while True:
        try:
            async with asyncio.timeout(interval):
                event = await stream.sub.get()
        except TimeoutError:
            assert stream.secret is not None
            try:
                await stream.authenticate(stream.secret)
            except AuthenticationError as exc:
                await stream.ws.close(code=CLOSE_UNAUTHORIZED, message=str(exc)[:120].encode())
                return
            await stream.send("heartbeat")
            continue
        await stream.ws.send_json(event.as_message())


async def _reader(stream: _Stream) -> None:
    """Handle client messages until the socket closes."""
    async for msg in stream.ws:
        if msg.type != WSMsgType.TEXT:
            await stream.error("invalid_request", "only JSON text messages are accepted")
            continue
        try:
            message = _PARSER.validate_json(msg.data)
        except ValidationError as exc:
            await stream.error("invalid_request", "invalid message", validation_details(exc))
            continue
        assert stream.secret is not None and stream.key is not None
        try:
            await stream.authenticate(stream.secret)
        except AuthenticationError as exc:
            await stream.ws.close(code=CLOSE_UNAUTHORIZED, message=str(exc)[:120].encode())
            return
        try:
            stream.runtime.limiter.check(stream.key.prefix)
            await stream.handle(message)
        except PermissionDenied as exc:
            await stream.error("forbidden", str(exc))
        except RateLimited as exc:
            await stream.error("rate_limited", str(exc), {"retry_after": exc.retry_after})


async def events(request: web.Request) -> web.StreamResponse:
    """Upgrade to the event stream after the Origin, slot and (if sent) key checks.

    A stream that brings its key in the upgrade is checked before upgrading (a bad key is a plain
    401) and takes one of `ws_max_clients` slots. One that will authenticate with its first
    message waits in a small pool of its own (`ws_unauthenticated`, at most
    `ws_unauthenticated_per_address` per client) for `ws_auth_timeout` seconds, so connections
    that never authenticate cannot take the slots of clients that do.
    """
    runtime, edge = runtime_of(request), edge_of(request)
    websockets = request.app[WEBSOCKETS]
    settings = runtime.core.settings.api
    address = request.get(CLIENT) or request.remote or "unknown"
    if not origin_allowed(request, settings):
        raise PermissionDenied(f"Origin {request.headers.get('Origin')} is not allowed")
    secret = presented_key(request)
    try:
        await refuse_guessers(runtime, edge, address, secret)
    except RateLimited:
        _count_refusal(edge, "unauthenticated_rate_limited", address)
        raise
    key: ApiKey | None = None
    if secret is not None:
        key = await _check_key(runtime, edge, address, secret)
        if len(websockets) >= settings.ws_max_clients:
            raise web.HTTPServiceUnavailable(reason="too many event-stream clients")
    elif (
        sum(edge.ws_pending.values()) >= settings.ws_unauthenticated
        or edge.ws_pending.get(address, 0) >= settings.ws_unauthenticated_per_address
    ):
        _count_refusal(edge, "ws_unauthenticated_full", address)
        raise web.HTTPServiceUnavailable(reason="too many event streams waiting to authenticate")
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat, max_msg_size=64 * 1024, protocols=("genosd",)
    )
    await ws.prepare(request)
    if key is None:
        edge.ws_pending[address] = edge.ws_pending.get(address, 0) + 1
        try:
            secret = await _receive_auth(ws, settings.ws_auth_timeout)
            key = await _check_key(runtime, edge, address, secret)
        except AuthenticationError as exc:
            await ws.close(code=CLOSE_UNAUTHORIZED, message=str(exc)[:120].encode())
            return ws
        except TimeoutError:
            await ws.close(code=CLOSE_AUTH_TIMEOUT, message=b"no auth message in time")
            return ws
        finally:
            edge.ws_pending[address] -= 1
            if not edge.ws_pending[address]:
                del edge.ws_pending[address]
        if len(websockets) >= settings.ws_max_clients:
            await ws.close(code=CLOSE_TRY_AGAIN, message=b"too many event-stream clients")
            return ws
    assert secret is not None  # authenticated one way or the other
    sub = runtime.events.subscribe(settings.ws_queue_size)
    stream = _Stream(runtime, ws, sub)
    stream.secret, stream.key = secret, key
    websockets.add(ws)
    try:
        await stream.welcome(key)
        await _serve(stream, request)
    finally:
        sub.close()
        websockets.discard(ws)
    return ws


async def _check_key(runtime: Runtime, edge: Edge, address: str, secret: str) -> ApiKey:
    """The active key for `secret`; a bad one spends the address's unauthenticated budget."""
    try:
        return await resolve_key(runtime, secret)
    except AuthenticationError:
        edge.unauthenticated.spend(address)
        edge.refusals.record(
            "unauthorized", actor=f"remote:{address}", action="events", path="", audited=False
        )
        raise


async def _serve(stream: _Stream, request: web.Request) -> None:
    tasks = {
        asyncio.create_task(_reader(stream)),
        asyncio.create_task(_writer(stream)),
        asyncio.create_task(stream.sub.overflowed.wait()),
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if stream.sub.overflowed.is_set():
        log.warning("dropping a slow event-stream client (%s)", stream.key and stream.key.principal)
        await _close_slow(stream.ws, request)
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("event stream ended: %r", exc)
    if not stream.ws.closed:
        await stream.ws.close()


async def _close_slow(ws: web.WebSocketResponse, request: web.Request) -> None:
    # the client does not read, so even the close frame may never drain: bound it, then abort
    try:
        await asyncio.wait_for(ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow consumer"), 2.0)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every client the daemon is going away."""
    for ws in list(app[WEBSOCKETS]):  # type: ignore[index]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"daemon shutting down"), 2.0
            )
