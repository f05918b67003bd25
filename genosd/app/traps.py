"""The SNMP trap and inform receiver: listen, decode, attribute, keep, publish, count.

Datagrams are only queued in the socket callback (after a per-source token bucket); a consumer
task handles them in batches and yields to the event loop between batches, so a flood costs the
poller at most one batch of work at a time and the rest is dropped and counted, never queued
without bound. Each notification is attributed to the inventory device whose SNMP address (or
hostname) sent it, named with MIB names, stored in the state database (`traps`, pruned by age and
count), published on the `traps` event topic, written as a Telegraf `snmp_trap` point, and counted
in /metrics. Informs are acknowledged; SNMPv3 senders discover this receiver's engine ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import sqlite3
import time
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from genosd.app.attribution import Attribution
from genosd.app.core import AppCore
from genosd.app.floodgate import SourceBuckets, enlarge_receive_buffer
from genosd.metrics.model import FieldValue, Point
from genosd.settings import GenosdSettings
from genosd.snmp.ber import BerError, IpAddress, Value
from genosd.snmp.names import MibNames
from genosd.snmp.notifications import Notification, Receiver, Rejected, UserSecret, answer_of
from genosd.statedb import transaction

log = logging.getLogger(__name__)
BATCH = 200  # notifications handled before the consumer yields to the event loop
RECEIVE_BUFFER = 4 << 20


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, service: TrapService):
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.service.offer(data, addr)


class TrapService:
    """Owns the receiver socket and the consumer task."""

    def __init__(self, core: AppCore, registry: CollectorRegistry):
        self.core = core
        self.received = Counter(
            "genosd_traps_received",
            "SNMP notifications accepted",
            ["version", "kind"],
            registry=registry,
        )
        self.rejected = Counter(
            "genosd_traps_rejected",
            "SNMP datagrams refused by the receiver",
            ["reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "genosd_traps_dropped",
            "SNMP datagrams dropped before decoding (flood)",
            ["reason"],
            registry=registry,
        )
        self.receiver = Receiver(set(), {})
        self.names: MibNames = core.snapshot.mib_names
        self.listening: tuple[str, int] | None = None
        self.error: str | None = None
        self._settings = core.settings.traps
        self._transport: asyncio.DatagramTransport | None = None
        self._queue: deque[tuple[bytes, tuple[Any, ...], float]] = deque()
        self._buckets = SourceBuckets(core.settings.traps.rate_per_source)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.apply(core.settings)

    # --- lifecycle ---------------------------------------------------------------------------

    def apply(self, settings: GenosdSettings) -> None:
        """Credentials, names and device addresses from the settings and inventory in effect."""
        self._settings = settings.traps
        self._buckets.rate = settings.traps.rate_per_source
        communities, users = _accepted(settings)
        self.receiver.communities, self.receiver.users = communities, users
        self.names = self.core.snapshot.mib_names
        self._attribution = Attribution(self.core.inventory.devices.values())

    async def start(self) -> None:
        """Listen (a port that cannot be bound is logged and shown in the health, not fatal)."""
        if not self._settings.enabled:
            return
        loop = asyncio.get_running_loop()
        where = (self._settings.host, self._settings.port)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), local_addr=where
            )
        except OSError as exc:
            self.error = f"cannot listen on udp {where[0]}:{where[1]}: {exc.strerror or exc}"
            log.warning("trap receiver: %s", self.error)
            return
        self._transport = transport
        enlarge_receive_buffer(transport.get_extra_info("socket"), RECEIVE_BUFFER)
        self.listening = transport.get_extra_info("sockname")[:2]
        self._task = asyncio.create_task(self._consume(), name="trap-receiver")
        log.info("trap receiver listening on udp %s:%s", *self.listening)

    async def stop(self) -> None:
        """Close the socket; what is queued is handled first."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drain()

    # --- intake (socket callback: cheap) -----------------------------------------------------

    def offer(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Queue a datagram unless its source is over its rate or the queue is full."""
        if not self._buckets.allow(addr[0], time.monotonic()):
            self.dropped.labels("rate_limited").inc()
            return
        if len(self._queue) >= self._settings.queue_size:
            self.dropped.labels("queue_full").inc()
            return
        self._queue.append((data, addr, time.time()))
        self._wake.set()

    # --- handling (consumer task) ------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            records = [r for r in (self._handle(*item) for item in batch) if r is not None]
            if records:
                try:
                    await self._keep(records)
                except Exception:  # a full disk must not stop the receiver
                    log.exception("trap receiver: could not store %d traps", len(records))
            await asyncio.sleep(0)  # let polls and the API run between batches

    def _handle(self, data: bytes, addr: tuple[Any, ...], at: float) -> dict[str, Any] | None:
        try:
            notification, answer = self.receiver.receive(data)
        except Rejected as exc:
            self.rejected.labels(exc.reason).inc()
            self._answer(answer_of(exc), addr)
            return None
        except (BerError, ValueError, IndexError):
            self.rejected.labels("malformed").inc()
            return None
        self._answer(answer, addr)
        if notification is None:
            return None  # a discovery probe, answered
        self.received.labels(notification.version, notification.kind).inc()
        return self._record(notification, addr[0], at)

    def _answer(self, answer: bytes | None, addr: tuple[Any, ...]) -> None:
        if answer is not None and self._transport is not None:
            self._transport.sendto(answer, addr)

    def _record(self, notification: Notification, source: str, at: float) -> dict[str, Any]:
        agent = _ip(notification.agent_address) if notification.agent_address else None
        device = self._attribution.device(source, agent)
        trap_name = self.names.lookup(notification.trap_oid)
        varbinds = [
            {"oid": oid, "name": self.names.label(oid), "value": _jsonable(value, self.names)}
            for oid, value in notification.varbinds
        ]
        return {
            "received_at": at,
            "source": source,
            "device": device,
            "version": notification.version,
            "kind": notification.kind,
            "trap_oid": notification.trap_oid,
            "name": trap_name.name if trap_name and not trap_name.index else None,
            "mib": trap_name.module if trap_name and not trap_name.index else None,
            "uptime": notification.uptime,
            "security_name": notification.security_name,
            "engine_id": notification.engine_id.hex() or None,
            "context": notification.context.decode(errors="replace") or None,
            "agent_address": agent,
            "varbinds": varbinds,
        }

    async def _keep(self, records: list[dict[str, Any]]) -> None:
        ids = await self.core.db.run(insert_traps, records)
        points = []
        for trap_id, record in zip(ids, records, strict=True):
            self.core.events.publish("traps", {"id": trap_id, **record})
            points.append(trap_point(record))
        await self.core.points.commit(points)

    async def prune(self) -> None:
        """Forget traps older than the retention or beyond the count kept."""
        settings = self._settings
        await self.core.db.run(
            prune_traps, time.time() - settings.retention_days * 86400, settings.max_kept
        )


def _accepted(settings: GenosdSettings) -> tuple[set[bytes], dict[bytes, UserSecret]]:
    """The communities and v3 users the receiver accepts, from the named credentials."""
    wanted = set(settings.traps.credentials)  # validated against `credentials` at load
    communities: set[bytes] = set()
    users: dict[bytes, UserSecret] = {}
    for name, credential in settings.credentials.items():
        if wanted and name not in wanted:
            continue
        if credential.community is not None:
            communities.add(credential.community.get_secret_value().encode())
        if credential.username:
            users[credential.username.encode()] = UserSecret(
                credential.username.encode(),
                credential.auth_protocol,
                credential.auth_key.get_secret_value().encode() if credential.auth_key else b"",
                credential.priv_protocol,
                credential.priv_key.get_secret_value().encode() if credential.priv_key else b"",
            )
    return communities, users


def _ip(raw: bytes) -> str | None:
    try:
        return str(ipaddress.IPv4Address(raw))
    except ValueError:
        return None


def _jsonable(value: Value, names: MibNames) -> object:
    """A varbind value for JSON: numbers, text, dotted IPs, named OIDs, else hex."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, IpAddress):
        return _ip(value)
    if value.startswith(b".") and value[1:2].isdigit():
        oid = value[1:].decode(errors="replace")
        return names.label(oid)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()
    # line breaks and tabs are text (a syslog message, a multi-line alias); other control bytes
    # mean binary
    readable = all(c.isprintable() or c in "\r\n\t" for c in text)
    return text if readable else "0x" + value.hex()


def trap_point(record: dict[str, Any]) -> Point:
    """Telegraf's `snmp_trap` measurement: tags source, name, mib, oid, version; varbinds as fields."""
    tags = {
        "source": record["source"],
        "name": record["name"] or record["trap_oid"],
        "mib": record["mib"] or "",
        "oid": "." + record["trap_oid"],
        "version": record["version"],
    }
    if record["device"]:
        tags["device"] = record["device"]
    fields: dict[str, FieldValue] = {}
    if record["uptime"] is not None:
        fields["sysUpTimeInstance"] = record["uptime"]
    for varbind in record["varbinds"]:
        value = varbind["value"]
        name = (
            varbind["name"].split(".")[0] if not varbind["name"][:1].isdigit() else varbind["oid"]
        )
        fields[name] = value if isinstance(value, int | str) else str(value)
    if not fields:
        fields["count"] = 1
    return Point(
        "snmp_trap", {k: v for k, v in tags.items() if v}, fields, int(record["received_at"] * 1e9)
    )


# --- storage ---------------------------------------------------------------------------------


def insert_traps(db: sqlite3.Connection, records: list[dict[str, Any]]) -> list[int]:
    """Store received traps; their ids."""
    ids = []
    with transaction(db):
        for record in records:
            cursor = db.execute(
                "INSERT INTO traps (received_at, source, device, version, kind, trap_oid, name, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["received_at"],
                    record["source"],
                    record["device"],
                    record["version"],
                    record["kind"],
                    record["trap_oid"],
                    record["name"],
                    json.dumps(record),
                ),
            )
            ids.append(int(cursor.lastrowid or 0))
    return ids


def list_traps(
    db: sqlite3.Connection, device: str | None, since: float | None, limit: int
) -> list[dict[str, Any]]:
    """Stored traps, newest first."""
    clauses: list[str] = []
    params: list[object] = []
    if device is not None:
        clauses.append("device = ?")
        params.append(device)
    if since is not None:
        clauses.append("received_at >= ?")
        params.append(since)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT id, data FROM traps{where} ORDER BY id DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [{"id": row[0], **json.loads(row[1])} for row in rows]


def prune_traps(db: sqlite3.Connection, before: float, keep: int) -> None:
    """Delete traps older than `before` and all but the newest `keep`."""
    with transaction(db):
        db.execute("DELETE FROM traps WHERE received_at < ?", (before,))
        db.execute(
            "DELETE FROM traps WHERE id <= (SELECT id FROM traps ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (keep,),
        )
