"""Drains the spool into a sink in order; retries with capped exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from prometheus_client import Counter, Gauge, Histogram

from genosd.errors import SinkError
from genosd.metrics.influx import MetricsSink, SinkRejected
from genosd.metrics.store import MetricsStore

log = logging.getLogger(__name__)


def retry_delay(failures: int, cap: float) -> float:
    """Seconds to wait after the `failures`-th failed write in a row: 1 s doubling, capped."""
    return min(cap, 0.5 * 2 ** min(failures, 16))


class ForwarderMetrics:
    """The forwarder's own Prometheus metrics, registered on the daemon's registry."""

    def __init__(self, registry: object) -> None:
        kw = {"registry": registry}
        self.written = Counter("genosd_sink_points_written", "Points delivered to the sink", **kw)  # type: ignore[arg-type]
        self.failures = Counter("genosd_sink_write_failures", "Failed sink writes", **kw)  # type: ignore[arg-type]
        self.rejected = Counter("genosd_sink_points_rejected", "Points the sink refused", **kw)  # type: ignore[arg-type]
        self.latency = Histogram("genosd_sink_write_seconds", "Sink write latency", **kw)  # type: ignore[arg-type]
        self.spool_points = Gauge("genosd_spool_points", "Points waiting in the spool", **kw)  # type: ignore[arg-type]
        self.spool_bytes = Gauge("genosd_spool_bytes", "Bytes waiting in the spool", **kw)  # type: ignore[arg-type]
        self.spool_dropped = Counter(
            "genosd_spool_dropped_points",
            "Unsent points dropped because the spool was full",
            **kw,  # type: ignore[arg-type]
        )


class Forwarder:
    """Sends pending points to one sink, oldest first; a batch is acknowledged only once delivered."""

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
        self._wake = asyncio.Event()
        self._dropped_reported = 0

    def notify(self) -> None:
        """New points arrived: flush without waiting for the interval."""
        self._wake.set()

    async def flush_once(self) -> bool:
        """Deliver one batch; True if there may be more."""
        batch = await self.store.pending(self.batch_size)
        if batch is None:
            return False
        began = time.perf_counter()
        try:
            await self.sink.write(batch.lines)
        except SinkRejected as exc:
            # The server refused this data; holding it would block everything behind it forever.
            log.error(
                "%s refused %d points, dropping them: %s", self.sink.name, len(batch.lines), exc
            )
            self.metrics.rejected.inc(len(batch.lines))
            await self.store.acknowledge(batch)
            return True
        self.metrics.latency.observe(time.perf_counter() - began)
        await self.store.acknowledge(batch)
        self.metrics.written.inc(len(batch.lines))
        return len(batch.lines) == self.batch_size

    async def run(self) -> None:
        """Forward until cancelled; a down sink is retried with backoff, nothing is skipped."""
        failures = 0
        while True:
            try:
                more = await self.flush_once()
            except SinkError as exc:
                failures += 1
                self.metrics.failures.inc()
                if self.healthy:
                    log.warning("%s unreachable, spooling to disk: %s", self.sink.name, exc)
                self.healthy, self.last_error = False, str(exc)
                self.export_spool_state()
                # jitter: many daemons behind one InfluxDB do not retry in step
                delay = retry_delay(failures, self.retry_max_delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                continue
            if not self.healthy:
                log.info("%s reachable again; replaying the spool", self.sink.name)
            self.healthy, self.last_error, failures = True, None, 0
            self.export_spool_state()
            if not more:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
                # a short pause lets a burst of polls land in one batch
                await asyncio.sleep(min(0.2, self.flush_interval))

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
            except (SinkError, TimeoutError):
                return False
        return False
