"""Drains the spool into a sink in order; nothing leaves the spool unless the sink settled it.

A batch is acknowledged only once the server stored it or refused specific lines of it for good
(counted, logged with a sample). When the server is unavailable — down, slow, 5xx, refusing the
credentials, missing the database — the points stay and the write is retried with capped
exponential back-off and jitter. A batch too large for the server is split; a batch the server
refuses as a whole is halved until the offending lines are found. `stop()` lets a write in
flight finish (bounded) so that a clean shutdown does not send the same batch twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from genosd.metrics.influx import (
    MetricsSink,
    SinkRefusedBatch,
    SinkRefusedLines,
    SinkTooLarge,
    SinkUnavailable,
)
from genosd.metrics.store import MetricsStore

log = logging.getLogger(__name__)

StateListener = Callable[[bool, str | None, str | None], None]  # healthy, reason, message


def retry_delay(failures: int, cap: float) -> float:
    """Seconds to wait after the `failures`-th failed write in a row: 1 s doubling, capped."""
    return min(cap, 0.5 * 2 ** min(failures, 16))


class ForwarderMetrics:
    """The forwarder's own Prometheus metrics, registered on the daemon's registry."""

    def __init__(self, registry: object) -> None:
        kw = {"registry": registry}
        self.written = Counter("genosd_sink_points_written", "Points delivered to the sink", **kw)  # type: ignore[arg-type]
        self.failures = Counter(
            "genosd_sink_write_failures",
            "Writes the sink could not take (the points stay and are retried), by reason",
            ["reason"],
            **kw,  # type: ignore[arg-type]
        )
        self.rejected = Counter(
            "genosd_sink_points_rejected",
            "Points the sink refused for good (dropped), counted one by one",
            **kw,  # type: ignore[arg-type]
        )
        self.healthy = Gauge("genosd_sink_up", "1 while the sink takes writes", **kw)  # type: ignore[arg-type]
        self.latency = Histogram("genosd_sink_write_seconds", "Sink write latency", **kw)  # type: ignore[arg-type]
        self.spool_points = Gauge("genosd_spool_points", "Points waiting in the spool", **kw)  # type: ignore[arg-type]
        self.spool_bytes = Gauge("genosd_spool_bytes", "Bytes waiting in the spool", **kw)  # type: ignore[arg-type]
        self.spool_dropped = Counter(
            "genosd_spool_dropped_points",
            "Unsent points dropped because the spool was full",
            **kw,  # type: ignore[arg-type]
        )
        self.healthy.set(1)


class Forwarder:
    """Sends pending points to one sink, oldest first."""

    def __init__(
        self,
        store: MetricsStore,
        sink: MetricsSink,
        *,
        batch_size: int,
        flush_interval: float,
        retry_max_delay: float,
        metrics: ForwarderMetrics,
    ):
        self.store = store
        self.sink = sink
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_max_delay = retry_max_delay
        self.metrics = metrics
        self.healthy = True
        self.last_error: str | None = None
        self.reason: str | None = None
        self.listeners: list[StateListener] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._dropped_reported = 0

    def notify(self) -> None:
        """New points arrived: flush without waiting for the interval."""
        self._wake.set()

    async def flush_once(self) -> bool:
        """Settle one batch; True if there may be more. SinkUnavailable when the sink is down."""
        batch = await self.store.pending(self.batch_size)
        if batch is None:
            return False
        await self._deliver(batch.ids, batch.lines)
        return len(batch.lines) == self.batch_size

    async def _deliver(self, ids: list[int], lines: list[str]) -> None:
        """Write `lines`, split them while the server refuses them, acknowledge what is settled."""
        began = time.perf_counter()
        try:
            await self.sink.write(lines)
        except SinkRefusedLines as exc:
            self._reject(exc.count, str(exc), lines[0])
        except (SinkTooLarge, SinkRefusedBatch) as exc:
            if len(lines) == 1:
                self._reject(1, str(exc), lines[0])
            else:
                if isinstance(exc, SinkTooLarge) and len(lines) <= self.batch_size:
                    self.batch_size = max(1, len(lines) // 2)
                    log.warning(
                        "%s: batch too large, now %d points", self.sink.name, self.batch_size
                    )
                half = len(lines) // 2
                await self._deliver(ids[:half], lines[:half])
                await self._deliver(ids[half:], lines[half:])
                return
        else:
            self.metrics.latency.observe(time.perf_counter() - began)
            self.metrics.written.inc(len(lines))
        await self.store.acknowledge_upto(ids[-1])

    def _reject(self, count: int, message: str, sample: str) -> None:
        self.metrics.rejected.inc(count)
        log.error(
            "%s refused %d point(s) for good, dropped: %s; sample line: %s",
            self.sink.name,
            count,
            message,
            sample[:300],
        )

    def _set_state(self, healthy: bool, reason: str | None, message: str | None) -> None:
        changed = healthy != self.healthy or reason != self.reason
        self.healthy, self.reason, self.last_error = healthy, reason, message
        self.metrics.healthy.set(1 if healthy else 0)
        if changed:
            for listener in self.listeners:
                listener(healthy, reason, message)

    async def run(self) -> None:
        """Forward until stopped; an unavailable sink is retried with back-off, nothing skipped."""
        failures = 0
        while not self._stopping:
            try:
                more = await self.flush_once()
            except SinkUnavailable as exc:
                failures += 1
                self.metrics.failures.labels(exc.reason).inc()
                if self.healthy or exc.reason != self.reason:
                    log.warning("%s: %s; spooling to disk", self.sink.name, exc)
                self._set_state(False, exc.reason, str(exc))
                self.export_spool_state()
                # jitter: many daemons behind one InfluxDB do not retry in step
                delay = retry_delay(failures, self.retry_max_delay) * random.uniform(0.5, 1.0)
                await self._sleep(max(delay, exc.retry_after or 0.0))
                continue
            if not self.healthy:
                log.info("%s takes writes again; replaying the spool", self.sink.name)
            self._set_state(True, None, None)
            failures = 0
            self.export_spool_state()
            if not more:
                self._wake.clear()
                await self._sleep(self.flush_interval)
                # a short pause lets a burst of polls land in one batch
                await asyncio.sleep(min(0.2, self.flush_interval))

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or until new points or a stop arrive."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def request_stop(self) -> None:
        """Finish the write in flight (and acknowledge it), then return from run()."""
        self._stopping = True
        self._wake.set()

    def export_spool_state(self) -> None:
        """Copy the spool's size and drops into the Prometheus metrics."""
        self.metrics.spool_points.set(self.store.pending_points)
        self.metrics.spool_bytes.set(self.store.pending_bytes)
        newly_dropped = self.store.dropped_points - self._dropped_reported
        if newly_dropped > 0:
            self.metrics.spool_dropped.inc(newly_dropped)
            self._dropped_reported += newly_dropped

    async def drain(self, timeout: float) -> bool:
        """Try to deliver everything pending before shutdown; False if some points remain."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not await asyncio.wait_for(self.flush_once(), deadline - time.monotonic()):
                    return True
            except (SinkUnavailable, TimeoutError):
                return False
        return False
