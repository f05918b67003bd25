"""The daemon's runtime: every long-lived service, built in one step, started and stopped in order.

`Runtime(snapshot)` constructs everything (nothing is filled in later): the application
core (state database, events, config history, host keys, status), the metrics pipeline, the SNMP
poller, the job runner with the core's jobs, the plugins, and the API's key cache and rate
limiter. `start()` brings them up in dependency order and `stop()` takes them down in reverse.
`reload()` reads a new snapshot off the event loop and applies it (see genosd.app.reload).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from genosd import audit, systemd
from genosd.app import (
    backups,
    cluster_deploys,
    command_history,
    facts,
    health,
    incidents,
    outbox,
    playbook_gates,
)
from genosd.app.actions import Actions
from genosd.app.alerting import AlertService, IncidentDesk
from genosd.app.cluster import ClusterCollector, ClusterService
from genosd.app.core import AppCore
from genosd.app.discovery import DiscoveryRuns
from genosd.app.fanout import serve_parts
from genosd.app.jobs import (
    Every,
    Job,
    JobRunner,
    JobsCollector,
    JobStatus,
    save_status,
    saved_statuses,
)
from genosd.app.llm import LlmCollector
from genosd.app.metrics import ComplianceCollector, DaemonMetrics, EventBusCollector
from genosd.app.playbook_gates import expire_gates, recover_orphans
from genosd.app.playbook_records import RunRecord, load_run
from genosd.app.playbook_schedule import PlaybookSchedules
from genosd.app.playbook_spread import KIND as PLAYBOOK_PART
from genosd.app.playbook_worker import run_part
from genosd.app.playbooks import BackgroundRuns, available, begin, plugin_tasks
from genosd.app.plugins import Plugins, load_plugins
from genosd.app.polling import Poller
from genosd.app.snapshot import Snapshot, Sources, load_snapshot
from genosd.app.syslog import SyslogService
from genosd.app.tool_catalog import registry
from genosd.app.tools import ToolRegistry
from genosd.app.traps import TrapService
from genosd.auth.keycache import KeyCache
from genosd.auth.keys import Role
from genosd.auth.ratelimit import RateLimiter
from genosd.cluster import build_coordinator, build_queue
from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import SnmpPoll
from genosd.errors import NotFoundError, PermissionDenied
from genosd.events import EventBus
from genosd.metrics.pipeline import MetricsPipeline
from genosd.settings import GenosdSettings

log = logging.getLogger(__name__)
RELAY_INTERVAL = 1.0  # seconds between looks for audit entries and CLI events to publish
PRUNE_INTERVAL = 300.0


class Runtime:
    """Everything the daemon runs; adapters (HTTP, CLI, ChatOps) call workflows over `core`."""

    def __init__(self, snapshot: Snapshot):
        """Build every service; PluginError when a required plugin fails to load."""
        settings = snapshot.settings
        self.started_at = time.time()
        self.registry = CollectorRegistry()
        self.metrics = DaemonMetrics(self.registry)
        self.pipeline = MetricsPipeline(
            settings.state_dir / "metrics.sqlite3", settings.influx, settings.store, self.registry
        )
        self.coordinator = build_coordinator(settings.cluster)
        scheduler = PollScheduler(
            self._on_poll,
            concurrency=settings.poller.concurrency,
            backoff_max=settings.poller.backoff_max,
            gate=self.coordinator,
        )
        self.core = AppCore(
            snapshot,
            events=EventBus(queue_size=settings.api.ws_queue_size),
            points=self.pipeline,
            snmp_health=scheduler.health,
            coordinator=self.coordinator,
            work=build_queue(settings.cluster),
        )
        for kind, reason, run in (
            (PLAYBOOK_PART, "playbook", run_part),
            (backups.READ_KIND, "backup", backups.read_part),
            (facts.COLLECT_KIND, "facts", facts.collect_part),
            (cluster_deploys.KIND, "deploy", cluster_deploys.push_part),
        ):
            serve_parts(self.core, kind, reason, run)
        self.cluster = ClusterService(self.core, self.coordinator)
        self.poller = Poller(self.core, scheduler, self.metrics, self.cluster.lags)
        self.traps = TrapService(self.core, self.registry)
        self.syslog = SyslogService(self.core, self.registry)
        self.alerts = AlertService(
            self.core, lambda: self.pipeline.store.pending_points, self.registry
        )
        self.core.metric_reader = self.pipeline.store
        self.playbook_runs = BackgroundRuns()
        self.discoveries = DiscoveryRuns()
        self.jobs = JobRunner(
            self.core.events, self._persist_job, leader=self.coordinator.is_leader
        )
        tools_of = lambda: self.tools  # noqa: E731 (the plugins' view of the registry, lazily)
        self.actions = Actions(
            self.core,
            tools_of,
            self.start_playbook,
            self.approve_run,
            lambda: IncidentDesk(self.core, self.alerts),
        )
        self.plugins = Plugins(
            self.core, load_plugins(self.core, tools_of, self.actions.run), self.jobs, tools_of
        )
        self.playbook_schedules = PlaybookSchedules(
            self.core, self.jobs, self.playbook_runs, plugin_tasks(self.plugins.host)
        )
        self.limiter = RateLimiter(
            settings.api.rate_limit_per_minute, settings.api.rate_limit_burst
        )
        self.key_cache = KeyCache()
        self.restart_required: list[str] = []  # settings changed on disk that a restart applies
        # adapters that keep settings of their own (the API's edge) are told about reloads
        self.reload_listeners: list[Callable[[GenosdSettings], None]] = []
        self.reload_lock = asyncio.Lock()
        self._audit_cursor: int | None = None  # None while nobody listens to `audit`
        self._outbox_cursor = 0
        self.pipeline.observers.append(self.plugins.runtime.deliver_points)
        self.pipeline.observers.append(self.alerts.observe_points)
        self.pipeline.sink_listeners.append(self._sink_changed)
        self.registry.register(EventBusCollector(self.core.events))
        self.registry.register(ComplianceCollector(self.core.compliance))
        self.registry.register(JobsCollector(self.jobs))
        self.registry.register(ClusterCollector(self.cluster, lambda: scheduler.claims_refused))
        self.registry.register(LlmCollector(self.core.usage, lambda: self.core.llm))

    @property
    def events(self) -> EventBus:
        """The daemon's event bus."""
        return self.core.events

    @property
    def tools(self) -> ToolRegistry:
        """genosd's tools and the active plugins' (as plugins are now)."""
        store = self.pipeline.store
        return registry(
            self.core, self.plugins.host, store.latest, store.points_since, self.start_playbook
        )

    async def start_playbook(
        self,
        name: str,
        *,
        actor: str,
        role: Role,
        variables: dict[str, Any] | None = None,
        check: bool = False,
    ) -> RunRecord:
        """Record, audit and start a run of playbook `name` in the background (its approval
        gates wait for a person); NotFoundError, PermissionDenied or InvalidRequestError (nothing
        recorded) when it cannot start."""
        tasks = plugin_tasks(self.plugins.host)
        found, _ = available(self.core, tasks)
        playbook = found.get(name)
        if playbook is None:
            raise NotFoundError(f"no playbook {name!r}")
        if not role.allows(Role(playbook.role)):
            raise PermissionDenied(f"playbook {playbook.name!r} needs the {playbook.role} role")
        record = await begin(
            self.core, playbook, tasks, actor=actor, variables=variables or {}, check=check
        )
        self.playbook_runs.start(self.core, record, tasks)
        return record

    async def approve_run(
        self, run_id: int, *, actor: str, role: Role, sha256: str | None
    ) -> RunRecord:
        """Approve the gate run `run_id` waits at (its changes bound to `sha256`) and let it go
        on in the background; PermissionDenied below the gate's role, ConflictError when it
        does not wait or four-eyes forbids it."""
        record = await self.core.db.run(load_run, run_id)
        gate = record.gate
        if gate is not None and not role.allows(Role(gate.role)):
            raise PermissionDenied(f"this approval gate needs the {gate.role} role")
        claimed = await playbook_gates.approve(self.core, run_id, actor, sha256)
        self.playbook_runs.start(self.core, claimed, plugin_tasks(self.plugins.host))
        return claimed

    def register_notifiers(self) -> None:
        """The active plugins' notification targets, for the incident notifications."""
        senders = self.alerts.notifier.senders
        senders.clear()
        for record in self.plugins.host.active:
            for notifier in record.contributions.notifiers:
                senders[f"{record.name}:{notifier.name}"] = notifier.send

    async def _on_poll(self, poll: SnmpPoll) -> None:
        await self.poller.handle(poll)

    def _sink_changed(self, healthy: bool, reason: str | None, message: str | None) -> None:
        """The metrics sink stopped or started taking writes: one alert per change."""
        self.events.publish(
            "alert",
            {
                "source": "genosd",
                "severity": "info" if healthy else "warning",
                "kind": "sink_recovered" if healthy else "sink_unavailable",
                "reason": reason,
                "message": message or "the metrics sink takes writes again",
                "spooled_points": self.pipeline.store.pending_points,
            },
        )

    async def _persist_job(self, status: JobStatus) -> None:
        await self.core.db.run(save_status, status)

    def _core_jobs(self) -> list[Job]:
        jobs = [
            backups.backup_job(self.core),
            facts.facts_job(self.core),
            health.health_job(self.core),
            Job("store_prune", "genosd", self._prune, lambda: Every(PRUNE_INTERVAL)),
            Job("event_relay", "genosd", self._relay, lambda: Every(RELAY_INTERVAL), quiet=True),
            Job("playbook_gates", "genosd", self._expire_gates, lambda: Every(60.0), quiet=True),
            Job(
                "alerts",
                "genosd",
                self.alerts.evaluate,
                lambda: Every(self.core.settings.alerts.interval),
                quiet=True,
            ),
        ]
        interval = systemd.watchdog_interval()
        if interval:
            jobs.append(
                Job("systemd_watchdog", "genosd", self._watchdog, lambda: Every(interval), True)
            )
        return jobs

    async def start(self) -> None:
        """Open storage, then start forwarding, plugins, pollers, receivers and jobs (in order)."""
        await self.core.open()
        await self.pipeline.start()
        self._outbox_cursor = await self.core.db.run(outbox.last_id)
        saved = await self.core.db.run(saved_statuses)
        for job in self._core_jobs():
            self.jobs.add(job, saved.get(job.name))
        self.plugins.start()
        self.register_notifiers()
        await self.cluster.start()
        self.poller.start()
        await self.traps.start()
        await self.syslog.start()
        await self.alerts.start()
        for run_id in await self.core.db.run(recover_orphans):
            log.warning("playbook run %d was cut short by a restart; resume it to go on", run_id)
        await self.playbook_schedules.sync(plugin_tasks(self.plugins.host))
        self.jobs.start()

    async def stop(self) -> None:
        """Stop in reverse order: jobs, receivers, pollers, plugins, then metrics and storage."""
        await self.jobs.stop()
        await self.playbook_runs.stop()
        await self.discoveries.stop()
        await self.alerts.stop()
        await self.syslog.stop()
        await self.traps.stop()
        await self.poller.stop()
        await self.cluster.stop()
        await self.plugins.stop()
        await self.pipeline.stop()
        await self.core.close()

    async def _expire_gates(self) -> None:
        for run_id in await self.core.db.run(expire_gates):
            self.events.publish(
                "run",
                {"kind": "playbook", "status": "finished", "run": run_id, "result": "expired"},
            )

    async def _prune(self) -> None:
        await self.pipeline.store.prune()
        await self.core.db.run(outbox.prune)
        await self.traps.prune()
        await self.syslog.prune()
        await self.core.db.run(
            incidents.prune, time.time() - self.core.settings.alerts.retention_days * 86400
        )
        await self.core.db.run(command_history.prune, self.core.settings.ssh.command_history_days)

    async def _relay(self) -> None:
        """Publish audit entries (while someone listens) and events written by CLI processes;
        store the commands sent to devices meanwhile."""
        db = self.core.db
        await self.core.flush_commands()
        for row_id, topic, data in await db.run(outbox.read_after, self._outbox_cursor):
            self._outbox_cursor = row_id
            if topic in self.events.topics:
                self.events.publish(topic, {**data, "origin": "cli"})
        if not self.events.has_subscribers("audit"):
            self._audit_cursor = None  # new listeners get new entries only
            return
        if self._audit_cursor is None:
            self._audit_cursor = await db.run(audit.last_id)
            return
        for entry in await db.run(audit.entries_after, self._audit_cursor):
            self._audit_cursor = entry.id
            self.events.publish("audit", entry.as_dict())

    async def _watchdog(self) -> None:
        """Ping systemd only while polls make progress, so a wedged poller gets restarted."""
        inventory = self.core.inventory
        intervals = [d.snmp.interval for d in inventory.devices.values() if d.snmp]
        interval = systemd.watchdog_interval() or 30.0
        allowed = 3 * max(min(intervals, default=60.0), interval * 2) + 30
        last = self.poller.last_progress or self.started_at
        # a cluster node that polls nothing now (others own its groups' devices) is not wedged
        idle = self.coordinator.distributed and self.cluster.owned_count() == 0
        if not intervals or idle or time.time() - last < allowed:
            systemd.notify("WATCHDOG=1")
            return
        raise RuntimeError(f"no poll finished for {time.time() - last:.0f}s; no watchdog ping")


def build_runtime(sources: Sources) -> Runtime:
    """Load the snapshot and build the runtime (blocking); ConfigError or PluginError if bad."""
    snapshot = load_snapshot(sources)
    snapshot.settings.state_dir.mkdir(parents=True, exist_ok=True)
    return Runtime(snapshot)
