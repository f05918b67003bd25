"""The syslog receiver: listen (UDP, TCP, TLS), parse, attribute, classify, keep, publish, count.

Like the trap receiver, sockets only queue what arrives (after a per-source token bucket and a
bounded queue: a flood is dropped and counted, never buffered without bound); one consumer task
handles the queue in batches and yields to the event loop between them, so polling never waits
behind a burst. Each message is parsed (RFC 5424 / 3164 and vendor variants), attributed to the
inventory device that sent it, masked for secrets (a logged `username … secret …` command must not
be kept), classified into a structured event where the catalogue knows it, stored in the state
database (`syslog`, pruned by age and count), published on the `syslog` event topic, and written
as Telegraf's `syslog` measurement.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import ssl
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from genosd.app.attribution import Attribution
from genosd.app.core import AppCore
from genosd.app.floodgate import SourceBuckets, enlarge_receive_buffer
from genosd.app.syslog_forward import Forwarder
from genosd.app.syslog_store import insert_messages, prune_messages
from genosd.app.udp_reader import DatagramReader, bind_udp
from genosd.metrics.model import FieldValue, Point
from genosd.settings import GenosdSettings
from genosd.syslog.framing import Deframer, FramingError
from genosd.syslog.message import Message, parse

log = logging.getLogger(__name__)
BATCH = 500  # messages handled before the consumer yields to the event loop
READ_SIZE = 65536


class SyslogService:
    """Owns the listening sockets, the connections and the consumer task."""

    def __init__(self, core: AppCore, registry: CollectorRegistry):
        self.core = core
        self.received = Counter(
            "genosd_syslog_received",
            "syslog messages accepted",
            ["transport"],
            registry=registry,
        )
        self.dropped = Counter(
            "genosd_syslog_dropped",
            "syslog messages dropped before handling (flood, size, framing)",
            ["reason"],
            registry=registry,
        )
        self.classified = Counter(
            "genosd_syslog_events",
            "syslog messages recognised as structured events",
            ["kind"],
            registry=registry,
        )
        self.listening: dict[str, tuple[str, int]] = {}
        self.errors: dict[str, str] = {}
        self.connections = 0
        self._settings = core.settings.syslog
        self._buckets = SourceBuckets(self._settings.rate_per_source)
        self._queue: collections.deque[tuple[bytes, str, str, float]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._udp: DatagramReader | None = None
        self._servers: list[asyncio.Server] = []
        self._streams: set[asyncio.Task[None]] = set()
        self._attribution = Attribution(())
        self._classifier = core.snapshot.syslog_events
        self._redact = core.llm.redact
        self.forwarder = Forwarder(self._settings.forward, registry)
        self.apply(core.settings)

    # --- lifecycle ---------------------------------------------------------------------------

    def apply(self, settings: GenosdSettings) -> None:
        """Limits, event catalogue and device addresses from the settings and inventory in effect
        (ports and TLS files take a restart)."""
        self._classifier = self.core.snapshot.syslog_events
        self._settings = settings.syslog
        self._buckets.rate = settings.syslog.rate_per_source
        self._attribution = Attribution(self.core.inventory.devices.values())
        self._redact = self.core.llm.redact

    @property
    def error(self) -> str | None:
        """Why a configured port is not listening, or a forward destination fails, if so."""
        problems = list(self.errors.values()) + [
            f"forwarding to {d.url}: {d.error}" for d in self.forwarder.destinations if d.error
        ]
        return "; ".join(problems) or None

    async def start(self) -> None:
        """Listen on the configured ports (one that cannot be bound is logged and shown in the
        health, not fatal), then start the consumer."""
        settings = self._settings
        if not settings.enabled:
            return
        loop = asyncio.get_running_loop()
        if settings.udp_port is not None:
            where = (settings.host, settings.udp_port)
            try:
                sock = bind_udp(*where)
            except OSError as exc:
                self.errors["udp"] = f"cannot listen on udp {where[0]}:{where[1]}: {_why(exc)}"
            else:
                enlarge_receive_buffer(sock)
                self.listening["udp"] = sock.getsockname()[:2]
                self._udp = DatagramReader(sock, self._datagrams, loop)
                self._udp.start()
        for transport_name, port, context in (
            ("tcp", settings.tcp_port, None),
            (
                "tls",
                settings.tls_port,
                _tls_context(settings) if settings.tls_port is not None else None,
            ),
        ):
            if port is None:
                continue
            try:
                server = await asyncio.start_server(
                    functools.partial(self._stream, transport=transport_name),
                    settings.host,
                    port,
                    ssl=context,
                    reuse_address=True,
                )
            except OSError as exc:
                self.errors[transport_name] = (
                    f"cannot listen on {transport_name} {settings.host}:{port}: {_why(exc)}"
                )
                continue
            self._servers.append(server)
            self.listening[transport_name] = server.sockets[0].getsockname()[:2]
        for problem in self.errors.values():
            log.warning("syslog receiver: %s", problem)
        for name, (host, port) in self.listening.items():
            log.info("syslog receiver listening on %s %s:%s", name, host, port)
        self._task = asyncio.create_task(self._consume(), name="syslog-receiver")
        self.forwarder.start()

    async def stop(self) -> None:
        """Close the sockets and connections; what is queued is handled first."""
        if self._udp is not None:
            await asyncio.to_thread(self._udp.stop)
            self._udp = None
        for server in self._servers:
            server.close()
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drain()
        await self.forwarder.stop()

    # --- intake (socket callbacks and connection tasks: cheap) -------------------------------

    def _datagrams(self, burst: list[tuple[bytes, str]]) -> None:
        for data, source in burst:
            self.offer(data, source, "udp")

    def offer(self, data: bytes, source: str, transport: str) -> None:
        """Queue one message unless its source is over its rate or the queue is full (the UDP
        path, one datagram at a time: kept lean, a slow callback loses datagrams in the kernel)."""
        if not self._buckets.allow(source, time.monotonic()):
            self.dropped.labels("rate_limited").inc()
            return
        if len(self._queue) >= self._settings.queue_size:
            self.dropped.labels("queue_full").inc()
            return
        if len(data) > self._settings.max_message:
            self.dropped.labels("truncated").inc()  # counted, kept cut to the limit
            data = data[: self._settings.max_message]
        self._queue.append((data, source, transport, time.time()))
        self._wake.set()

    def offer_many(self, messages: list[bytes], source: str, transport: str) -> None:
        """Queue what one read brought from one source: as many as its bucket and the queue
        take (one bucket look for the lot); the rest dropped and counted."""
        granted = self._buckets.take(source, len(messages), time.monotonic())
        if granted < len(messages):
            self.dropped.labels("rate_limited").inc(len(messages) - granted)
        room = max(0, self._settings.queue_size - len(self._queue))
        if granted > room:
            self.dropped.labels("queue_full").inc(granted - room)
            granted = room
        if not granted:
            return
        limit, at, queue = self._settings.max_message, time.time(), self._queue
        for data in messages[:granted]:
            if len(data) > limit:
                self.dropped.labels("truncated").inc()  # counted, kept cut to the limit
                data = data[:limit]
            queue.append((data, source, transport, at))
        self._wake.set()

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str
    ) -> None:
        task = asyncio.current_task()
        if self.connections >= self._settings.max_connections or task is None:
            self.dropped.labels("too_many_connections").inc()
            writer.close()
            return
        self._streams.add(task)
        self.connections += 1
        source = (writer.get_extra_info("peername") or ("?",))[0]
        deframer = Deframer(self._settings.max_message)
        try:
            while True:
                data = await asyncio.wait_for(
                    reader.read(READ_SIZE), timeout=self._settings.idle_timeout
                )
                if not data:
                    break
                before = deframer.truncated
                self.offer_many(deframer.feed(data), source, transport)
                for _ in range(deframer.truncated - before):
                    self.dropped.labels("truncated").inc()
            if (last := deframer.rest()) is not None:
                self.offer(last, source, transport)
        except FramingError as exc:
            self.dropped.labels("framing").inc()
            log.warning("syslog receiver: closing %s from %s: %s", transport, source, exc)
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            pass  # an idle or broken sender: it reconnects when it has something to say
        finally:
            self.connections -= 1
            self._streams.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # --- handling (consumer task) ------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        # one batch is stored (on the database thread) while the next is parsed here; stores
        # stay in order, since each waits for the one before
        storing: asyncio.Future[None] | None = None
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            records = [self._record(*item) for item in batch]
            self._count(records)
            if storing is not None:
                await storing
            storing = asyncio.ensure_future(self._keep_logged(records))
            await asyncio.sleep(0)  # let polls and the API run between batches
        if storing is not None:
            await storing

    async def _keep_logged(self, records: list[dict[str, Any]]) -> None:
        try:
            await self._keep(records)
        except Exception:  # a full disk must not stop the receiver
            log.exception("syslog receiver: could not store %d messages", len(records))

    def _count(self, records: list[dict[str, Any]]) -> None:
        """The batch's messages in /metrics (per batch: a label lookup per message costs)."""
        transports = collections.Counter(r["transport"] for r in records)
        for transport, count in transports.items():
            self.received.labels(transport).inc(count)
        kinds = collections.Counter(r["event"]["kind"] for r in records if r["event"])
        for kind, count in kinds.items():
            self.classified.labels(kind).inc(count)

    def _record(self, data: bytes, source: str, transport: str, at: float) -> dict[str, Any]:
        message = parse(data, at)
        text = self._redact(message.text)
        event = self._classifier.classify(text)
        return {
            "received_at": at,
            "source": source,
            "transport": transport,
            "device": self._attribution.device(source, message.hostname),
            "format": message.format,
            "facility": message.facility_name,
            "facility_code": message.facility,
            "severity": message.severity_name,
            "severity_code": message.severity,
            "timestamp": message.timestamp,
            "hostname": message.hostname,
            "app": message.app,
            "procid": message.procid,
            "msgid": message.msgid,
            "structured": _masked(message, self._redact),
            "message": text,
            "event": event,
        }

    async def _keep(self, records: list[dict[str, Any]]) -> None:
        ids = await self.core.db.run(insert_messages, records)
        self.forwarder.offer(records)
        publish = self.core.events.publish
        for message_id, record in zip(ids, records, strict=True):
            record["id"] = message_id
            publish("syslog", record)
        wanted = self._settings.to_metrics
        if wanted or (wanted is None and self.core.settings.influx.url):
            await self.core.points.commit([syslog_point(record) for record in records])

    async def prune(self) -> None:
        """Forget messages older than the retention or beyond the count kept."""
        settings = self._settings
        await self.core.db.run(
            prune_messages, time.time() - settings.retention_days * 86400, settings.max_kept
        )


def _masked(message: Message, redact: Any) -> dict[str, dict[str, str]]:
    return {
        element: {name: redact(value) for name, value in params.items()}
        for element, params in message.structured.items()
    }


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _tls_context(settings: Any) -> ssl.SSLContext:
    """The TLS port's context (ConfigError-free: files were checked when settings loaded)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca is not None:
        context.load_verify_locations(settings.tls_client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def syslog_point(record: dict[str, Any]) -> Point:
    """Telegraf's `syslog` measurement (tags appname, facility, hostname, severity, source; the
    message and codes as fields), plus `device` and the structured event's `event` tag."""
    tags = {
        "appname": record["app"] or "",
        "facility": record["facility"],
        "hostname": record["hostname"] or record["source"],
        "severity": record["severity"],
        "source": record["source"],
        "device": record["device"] or "",
        "event": record["event"]["kind"] if record["event"] else "",
    }
    fields: dict[str, FieldValue] = {
        "facility_code": record["facility_code"],
        "severity_code": record["severity_code"],
        "message": record["message"],
    }
    if record["timestamp"] is not None:
        fields["timestamp"] = int(record["timestamp"] * 1e9)
    if record["format"] == "rfc5424":
        fields["version"] = 1
    for name in ("procid", "msgid"):
        if record[name]:
            fields[name] = record[name]
    if record["structured"]:
        fields["sdid"] = True
        for element, params in record["structured"].items():
            for name, value in params.items():
                fields[f"{element}_{name}"] = value
    return Point(
        "syslog", {k: v for k, v in tags.items() if v}, fields, int(record["received_at"] * 1e9)
    )
