"""The metrics pipeline: every point is committed to the local store, then forwarded to the sink.

One object owns the store, the configured sink (InfluxDB 1.x or 2.x/3.x, or none) and the
forwarder that drains the spool into it. `reconfigure()` applies new `influx` and `store`
settings while the daemon runs: a sink that appears starts forwarding from the next point, a
changed one is swapped after the old one has delivered what it can, a removed one stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from genosd.metrics.forwarder import Forwarder, ForwarderMetrics, StateListener
from genosd.metrics.influx import make_sink
from genosd.metrics.model import Point
from genosd.metrics.store import MetricsStore
from genosd.settings_sections import InfluxSettings, StoreSettings

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0  # how long a stopping sink may spend delivering its backlog

PointsObserver = Callable[[list[Point]], None]


@dataclass(frozen=True)
class SinkState:
    """The sink as /health and /system report it."""

    name: str
    healthy: bool
    last_error: str | None
    reason: str | None = None


class _StoreCollector(Collector):
    """Points the store could not keep for any sink: no field line protocol can carry."""

    def __init__(self, store: MetricsStore):
        self.store = store

    def collect(self) -> list[Metric]:
        """genosd_store_unwritable_points_total."""
        return [
            CounterMetricFamily(
                "genosd_store_unwritable_points",
                "Points left out because no field of theirs can be written (NaN, infinities)",
                self.store.unwritable_points,
            )
        ]


class MetricsPipeline:
    """Store, sink and forwarder, configured from settings and reconfigurable."""

    def __init__(
        self,
        store_path: Path,
        influx: InfluxSettings,
        store: StoreSettings,
        registry: CollectorRegistry,
    ):
        self.influx = influx
        self.store = MetricsStore(
            store_path,
            max_bytes=store.max_bytes,
            retention_hours=store.retention_hours,
            forwarding=bool(influx.url),
        )
        self._forwarder_metrics = ForwarderMetrics(registry)
        registry.register(_StoreCollector(self.store))
        self.forwarder: Forwarder | None = None
        self._task: asyncio.Task[None] | None = None
        self.observers: list[PointsObserver] = []
        self.sink_listeners: list[StateListener] = []  # told when the sink's health changes

    async def start(self) -> None:
        """Open the store and start forwarding to the configured sink, if any."""
        await self.store.open()
        self._start_forwarder(self.influx)

    def _start_forwarder(self, influx: InfluxSettings) -> None:
        sink = make_sink(influx)
        if sink is None:
            return
        self.forwarder = Forwarder(
            self.store,
            sink,
            batch_size=influx.batch_size,
            flush_interval=influx.flush_interval,
            retry_max_delay=influx.retry_max_delay,
            metrics=self._forwarder_metrics,
        )
        self.forwarder.listeners.extend(self.sink_listeners)
        self._task = asyncio.create_task(self.forwarder.run(), name="forwarder")

    async def _stop_forwarder(self) -> None:
        """Let a write in flight finish and deliver what the sink takes, within DRAIN_SECONDS.

        Cancelling a write the server may already have stored would send that batch again after
        the restart; so the forwarder is asked to stop after its current write, and is cancelled
        only when the bound runs out (see docs/metrics.md on re-sends).
        """
        forwarder, task = self.forwarder, self._task
        self.forwarder = self._task = None
        if forwarder is None or task is None:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        forwarder.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), DRAIN_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.warning("%s did not answer within %gs", forwarder.sink.name, DRAIN_SECONDS)
        remaining = deadline - time.monotonic()
        if self.store.pending_points and (remaining <= 0 or not await forwarder.drain(remaining)):
            log.warning("%d points stay in the spool for the next sink", self.store.pending_points)
        await forwarder.sink.close()

    async def stop(self) -> None:
        """Deliver what the sink takes within DRAIN_SECONDS, then close everything."""
        await self._stop_forwarder()
        await self.store.close()

    async def reconfigure(self, influx: InfluxSettings, store: StoreSettings) -> None:
        """Apply new sink and store settings without losing a committed point."""
        self.store.set_limits(max_bytes=store.max_bytes, retention_hours=store.retention_hours)
        if influx == self.influx:
            return
        await self._stop_forwarder()
        self.influx = influx
        await self.store.set_forwarding(bool(influx.url))
        self._start_forwarder(influx)
        log.info("metrics sink: %s", self.forwarder.sink.name if self.forwarder else "none")

    async def commit(self, points: list[Point]) -> None:
        """Commit points to the store, show them to observers, wake the forwarder."""
        if not points:
            return
        await self.store.append(points)
        for observe in self.observers:
            observe(points)
        if self.forwarder is not None:
            self.forwarder.notify()

    @property
    def sink(self) -> SinkState | None:
        """The sink's health, or None when no sink is configured."""
        if self.forwarder is None:
            return None
        forwarder = self.forwarder
        return SinkState(
            forwarder.sink.name, forwarder.healthy, forwarder.last_error, forwarder.reason
        )

    def export_state(self) -> None:
        """Copy the spool's size into the Prometheus metrics (at scrape time)."""
        if self.forwarder is not None:
            self.forwarder.export_spool_state()
