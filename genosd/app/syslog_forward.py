"""Forwarding received syslog to a log store: another syslog server (RFC 5424 over UDP, or TCP
with octet counting) or Grafana Loki's push API.

Forwarding never slows the receiver: each destination has a bounded queue that a task drains in
batches; while a destination is down its queue fills and what does not fit is dropped and
counted (`genosd_syslog_forward_dropped_total{destination}`), and the task reconnects with
back-off. Messages go out as stored: masked, with the device attributed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from genosd import __version__
from genosd.syslog.message import FACILITIES, SEVERITIES

log = logging.getLogger(__name__)
BATCH = 500
QUEUE = 50_000


def rfc5424(record: dict[str, Any]) -> bytes:
    """A stored message as an RFC 5424 line: the sender's header, genosd's view as SD."""
    pri = FACILITIES.index(record["facility"]) * 8 + SEVERITIES.index(record["severity"])
    stamp = record["timestamp"] or record["received_at"]
    when = (
        datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    host = _field(record["device"] or record["hostname"] or record["source"], 255)
    params = [f'source="{_sd(record["source"])}"']
    if record["device"]:
        params.append(f'device="{_sd(record["device"])}"')
    if record["event"]:
        params.append(f'event="{_sd(record["event"]["kind"])}"')
    head = (
        f"<{pri}>1 {when} {host} {_field(record['app'], 48)} {_field(record['procid'], 128)} "
        f"{_field(record['msgid'], 32)} [genosd@32473 {' '.join(params)}] "
    )
    return head.encode() + record["message"].encode("utf-8", "replace")


def _field(value: str | None, size: int) -> str:
    if not value:
        return "-"
    text = "".join(c for c in value if 33 <= ord(c) <= 126)
    return text[:size] or "-"


def _sd(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def loki_streams(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Records as a Loki push body: one stream per device/host, severity and app."""
    streams: dict[tuple[str, ...], list[list[str]]] = collections.defaultdict(list)
    for record in records:
        labels = (
            record["device"] or record["hostname"] or record["source"],
            record["severity"],
            record["facility"],
            record["app"] or "",
            record["event"]["kind"] if record["event"] else "",
        )
        streams[labels].append([str(int(record["received_at"] * 1e9)), record["message"]])
    return {
        "streams": [
            {
                "stream": {
                    k: v
                    for k, v in zip(
                        ("host", "severity", "facility", "app", "event"), labels, strict=True
                    )
                    if v
                }
                | {"job": "genosd-syslog"},
                "values": values,
            }
            for labels, values in streams.items()
        ]
    }


class Destination:
    """One forwarding target with its queue and its sending task."""

    def __init__(self, url: str, dropped: Counter, sent: Counter):
        self.url = url
        self.parsed = urllib.parse.urlsplit(url)
        self.kind = self.parsed.scheme
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.wake = asyncio.Event()
        self.dropped = dropped.labels(self._name())
        self.sent = sent.labels(self._name())
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._session: aiohttp.ClientSession | None = None

    def _name(self) -> str:
        return f"{self.parsed.scheme}://{self.parsed.hostname}:{self.parsed.port or ''}"

    def offer(self, records: list[dict[str, Any]]) -> None:
        """Queue records (the oldest beyond the queue's size are dropped and counted)."""
        self.queue.extend(records)
        while len(self.queue) > QUEUE:
            self.queue.popleft()
            self.dropped.inc()
        self.wake.set()

    def start(self) -> None:
        """Start sending."""
        self._task = asyncio.create_task(self._run(), name=f"syslog-forward {self._name()}")

    async def stop(self, grace: float = 5.0) -> None:
        """Send what is queued (for at most `grace` seconds), then close."""
        deadline = time.monotonic() + grace
        while self.queue and self.error is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _run(self) -> None:
        delay = 1.0
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
                try:
                    await self._send(batch)
                except (OSError, aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                    self.error = f"{type(exc).__name__}: {exc}"
                    log.warning("syslog forward to %s failed: %s", self._name(), self.error)
                    self.queue.extendleft(reversed(batch))  # kept, in order, for the retry
                    await self._close()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60.0)
                    continue
                self.error, delay = None, 1.0
                self.sent.inc(len(batch))

    async def _send(self, batch: list[dict[str, Any]]) -> None:
        host, port = self.parsed.hostname or "127.0.0.1", self.parsed.port
        if self.kind == "tcp":
            if self._writer is None:
                _, opened = await asyncio.wait_for(asyncio.open_connection(host, port or 514), 10)
                self._writer = opened
            writer = self._writer
            lines = [rfc5424(record) for record in batch]
            writer.write(b"".join(b"%d %s" % (len(line), line) for line in lines))
            await asyncio.wait_for(writer.drain(), 10)
        elif self.kind == "udp":
            if self._udp is None:
                loop = asyncio.get_running_loop()
                self._udp, _ = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, remote_addr=(host, port or 514)
                )
            for record in batch:
                self._udp.sendto(rfc5424(record)[:65000])
        else:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    headers={"User-Agent": f"genosd/{__version__}"}
                )
            body = json.dumps(loki_streams(batch)).encode()
            async with self._session.post(
                self.url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status >= 300:
                    raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:200]}")

    async def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._session is not None:
            await self._session.close()
            self._session = None


class Forwarder:
    """Every configured destination."""

    def __init__(self, urls: list[str], registry: CollectorRegistry):
        dropped = Counter(
            "genosd_syslog_forward_dropped",
            "syslog messages a destination could not take in time (its queue was full)",
            ["destination"],
            registry=registry,
        )
        sent = Counter(
            "genosd_syslog_forwarded",
            "syslog messages forwarded",
            ["destination"],
            registry=registry,
        )
        self.destinations = [Destination(url, dropped, sent) for url in urls]

    def offer(self, records: list[dict[str, Any]]) -> None:
        """Hand a batch of stored records to every destination."""
        for destination in self.destinations:
            destination.offer(records)

    def start(self) -> None:
        """Start every destination's task."""
        for destination in self.destinations:
            destination.start()

    async def stop(self) -> None:
        """Drain (briefly) and close every destination."""
        await asyncio.gather(*(d.stop() for d in self.destinations))
