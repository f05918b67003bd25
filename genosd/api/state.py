"""The daemon's long-lived objects, held by the aiohttp application under typed keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from genosd.auth.ratelimit import RateLimiter
from genosd.collectors.scheduler import PollScheduler
from genosd.inventory import Inventory
from genosd.metrics.forwarder import Forwarder
from genosd.metrics.rates import CounterRates
from genosd.metrics.store import MetricsStore
from genosd.settings import GenosdSettings
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
    started_at: float = field(default_factory=time.time)
    last_poll_progress: float = 0.0

    def __post_init__(self) -> None:
        api = self.settings.api
        self.limiter = RateLimiter(api.rate_limit_per_minute, api.rate_limit_burst)


STATE = web.AppKey("state", DaemonState)
