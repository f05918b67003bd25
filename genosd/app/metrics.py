"""The daemon's own Prometheus metrics (GET /metrics), registered on the runtime's registry."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from genosd.events import EventBus


class DaemonMetrics:
    """Counters and gauges the application updates as it works."""

    def __init__(self, registry: CollectorRegistry):
        self.polls = Counter("genosd_polls", "SNMP polls", ["result"], registry=registry)
        self.points = Counter("genosd_points", "Metric points produced", registry=registry)
        self.devices = Gauge("genosd_devices", "Devices by status", ["status"], registry=registry)
        self.last_poll_progress = Gauge(
            "genosd_last_poll_progress_timestamp",
            "Wall time of the last finished poll",
            registry=registry,
        )
        self.poll_lag = Histogram(
            "genosd_poll_start_lag_seconds",
            "How late scheduled polls started after their slot",
            buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
            registry=registry,
        )
        self.poll_duration = Histogram(
            "genosd_poll_duration_seconds",
            "How long SNMP polls took",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.gc_pause = Histogram(
            "genosd_gc_pause_seconds",
            "Python's garbage collector pauses (the event loop waits through them)",
            ["generation"],
            buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.reloads = Counter(
            "genosd_reloads", "Settings and inventory reloads", ["result"], registry=registry
        )


def time_gc_pauses(metrics: DaemonMetrics) -> Callable[[str, dict[str, int]], None]:
    """A gc.callbacks hook observing each collection's pause into genosd_gc_pause_seconds."""
    started = [0.0]

    def hook(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pause = time.perf_counter() - started[0]
            metrics.gc_pause.labels(str(info.get("generation", "?"))).observe(pause)

    return hook


class ComplianceCollector(Collector):
    """Exports the newest compliance score of each device at scrape time."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores

    def collect(self) -> list[Metric]:
        """genosd_compliance_score{device} (0-100)."""
        family = GaugeMetricFamily(
            "genosd_compliance_score",
            "Percent of compliance rules the device's config passes",
            labels=["device"],
        )
        for device, score in sorted(self.scores.items()):
            family.add_metric([device], score)
        return [family]


class EventBusCollector(Collector):
    """Exports the event bus's counters at scrape time."""

    def __init__(self, bus: EventBus):
        self.bus = bus

    def collect(self) -> list[Metric]:
        """Published events, attached subscribers, dropped slow subscribers."""
        return [
            CounterMetricFamily("genosd_events_published", "Events published", self.bus.published),
            GaugeMetricFamily(
                "genosd_event_subscribers", "Attached subscribers", self.bus.subscribers
            ),
            CounterMetricFamily(
                "genosd_event_subscribers_dropped",
                "Subscribers dropped for not keeping up",
                self.bus.dropped_subscribers,
            ),
        ]
