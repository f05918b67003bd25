"""The daemon's long-lived objects, held by the aiohttp application under typed keys."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from genosd.auth.keycache import KeyCache
from genosd.auth.ratelimit import RateLimiter
from genosd.collectors.scheduler import PollScheduler
from genosd.config.history import ConfigHistory, history_path
from genosd.config.lifecycle import Lifecycle
from genosd.events import EventBus
from genosd.inventory import Inventory
from genosd.metrics.forwarder import Forwarder
from genosd.metrics.model import Point
from genosd.metrics.rates import CounterRates
from genosd.metrics.store import MetricsStore
from genosd.pluginhost.manager import PluginHost
from genosd.pluginhost.runtime import PluginRuntime
from genosd.settings import GenosdSettings
from genosd.ssh.hostkeys import KnownHosts, known_hosts_path
from genosd.statedb import StateDB


class DaemonMetrics:
    """The daemon's own Prometheus metrics (GET /metrics)."""

    def __init__(self, registry: CollectorRegistry):
        self.polls = Counter("genosd_polls", "SNMP polls", ["result"], registry=registry)
        self.points = Counter("genosd_points", "Metric points produced", registry=registry)
        self.devices = Gauge("genosd_devices", "Devices by status", ["status"], registry=registry)
        self.last_poll_progress = Gauge(
            "genosd_last_poll_progress_timestamp",
            "Wall time of the last finished poll",
            registry=registry,
        )


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


@dataclass
class DaemonState:
    """Everything the daemon owns; built by create_app, started and stopped by cleanup_ctx."""

    settings: GenosdSettings
    config_file: Path | None
    inventory_dir: Path
    extra_secrets_dirs: list[Path]
    inventory: Inventory
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    rates: CounterRates = field(default_factory=CounterRates)
    store: MetricsStore | None = None
    scheduler: PollScheduler | None = None
    forwarder: Forwarder | None = None
    metrics: DaemonMetrics | None = None
    statedb: StateDB | None = None
    limiter: RateLimiter = field(init=False)
    key_cache: KeyCache = field(default_factory=KeyCache)
    events: EventBus = field(init=False)
    websockets: set[web.WebSocketResponse] = field(default_factory=set)
    plugins: PluginHost = field(default_factory=PluginHost)
    plugin_runtime: PluginRuntime | None = None
    backup_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    deploying: set[str] = field(default_factory=set)
    compliance_scores: dict[str, float] = field(default_factory=dict)
    _lifecycle: tuple[int, int, Lifecycle] | None = None
    published_status: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    last_poll_progress: float = 0.0

    @functools.cached_property
    def config_history(self) -> ConfigHistory:
        """The git repository of device configs (opened once)."""
        return ConfigHistory(history_path(self.settings.state_dir))

    @functools.cached_property
    def known_hosts(self) -> KnownHosts:
        """The pinned SSH host keys."""
        return KnownHosts(known_hosts_path(self.settings.state_dir))

    @property
    def lifecycle(self) -> Lifecycle:
        """Render/validate/deploy over the current settings and inventory (rebuilt after a reload)."""
        key = (id(self.settings), id(self.inventory))
        if self._lifecycle is None or self._lifecycle[:2] != key:
            built = Lifecycle(self.settings, self.inventory, self.known_hosts, self.config_history)
            self._lifecycle = (*key, built)
        return self._lifecycle[2]

    @property
    def db(self) -> StateDB:
        """The open state database (cleanup_ctx opens it before any route or loop runs)."""
        assert self.statedb is not None, "the state database is not open"
        return self.statedb

    async def commit_points(self, points: list[Point]) -> None:
        """Commit points to the local store, hand them to plugin sinks, wake the forwarder."""
        if self.store is None or not points:
            return
        await self.store.append(points)
        if self.plugin_runtime is not None:
            self.plugin_runtime.deliver_points(points)
        if self.metrics is not None:
            self.metrics.points.inc(len(points))
        if self.forwarder is not None:
            self.forwarder.notify()

    def __post_init__(self) -> None:
        api = self.settings.api
        self.limiter = RateLimiter(api.rate_limit_per_minute, api.rate_limit_burst)
        self.events = EventBus(queue_size=api.ws_queue_size)
        self.registry.register(EventBusCollector(self.events))
        self.registry.register(ComplianceCollector(self.compliance_scores))


STATE = web.AppKey("state", DaemonState)
