"""The services every workflow uses, built in one step from a snapshot, for the daemon and the CLI.

`AppCore` holds the snapshot (settings + inventory), the state database, the event bus, the config
history, the pinned host keys, device status and compliance scores, and where metric points go.
The daemon's `Runtime` wraps one with the long-running services (pollers, pipeline, jobs,
plugins); a CLI command opens one on its own (`AppCore.for_tool`): its events go to the state
database's outbox, which the daemon relays, so a workflow publishes and audits the same from
either adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from genosd import audit
from genosd.app import command_store, outbox
from genosd.app.lifecycle import Lifecycle
from genosd.app.llm import UsageBook, redactor
from genosd.app.snapshot import Snapshot
from genosd.app.status import StatusBoard
from genosd.cluster import Coordinator, LocalQueue, WorkQueue, build_coordinator
from genosd.collectors.scheduler import DeviceHealth
from genosd.config.compliance import compliance_history
from genosd.config.history import ConfigHistory, history_path
from genosd.events import Event, EventBus
from genosd.inventory import Device, Inventory
from genosd.llm import LlmLayer
from genosd.llm.prompts import PromptBook
from genosd.metrics.model import Point
from genosd.settings import GenosdSettings
from genosd.ssh.hostkeys import KnownHosts, known_hosts_path
from genosd.ssh.journal import Journal
from genosd.statedb import StateDB, state_db_path

log = logging.getLogger(__name__)


class PointWriter(Protocol):
    """Where workflows put metric points (the daemon's pipeline)."""

    async def commit(self, points: list[Point]) -> None:
        """Keep the points (committed before this returns)."""


class UnkeptPoints:
    """A CLI process keeps no metrics: the daemon's own schedule produces them."""

    async def commit(self, points: list[Point]) -> None:
        """Drop the points (logged at debug level)."""
        if points:
            log.debug("not keeping %d points outside the daemon", len(points))


def inventory_tags(device: Device) -> dict[str, str]:
    """The inventory's site, role and first group of a device, as metric tags (dashboards
    filter on them); only those it sets."""
    found = {"site": device.site, "role": device.role}
    found["group"] = device.groups[0] if device.groups else None
    return {k: v for k, v in found.items() if v}


class InventoryTagged:
    """A point writer that adds the inventory tags of each point's `device` (tags a point
    already has win)."""

    def __init__(self, inner: PointWriter, devices: Callable[[], dict[str, Device]]):
        self.inner = inner
        self.devices = devices

    async def commit(self, points: list[Point]) -> None:
        """Tag, then hand on."""
        devices = self.devices()
        extras: dict[str, dict[str, str]] = {}  # once per device of the batch (a poll: ~50 points)
        tagged = []
        for point in points:
            name = point.tags.get("device", "")
            if name not in extras:
                device = devices.get(name)
                extras[name] = inventory_tags(device) if device is not None else {}
            missing = {k: v for k, v in extras[name].items() if k not in point.tags}
            tagged.append(replace(point, tags={**point.tags, **missing}) if missing else point)
        await self.inner.commit(tagged)


class MetricReader(Protocol):
    """The daemon's local metrics store, as troubleshooting reads it."""

    async def latest(self, device: str) -> list[dict[str, Any]]:
        """The newest value of every series of one device."""
        ...

    async def points_since(
        self, device: str, measurement: str, since_ns: int, limit: int = 200_000
    ) -> list[Point]:
        """One device's points of `measurement` since `since_ns`, oldest first."""
        ...


class AppCore:
    """Snapshot, state database, events, config history, host keys, status, compliance."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        events: EventBus,
        points: PointWriter,
        snmp_health: dict[str, DeviceHealth],
        coordinator: Coordinator | None = None,
        work: WorkQueue | None = None,
    ):
        self.snapshot = snapshot
        # the daemon passes its cluster node; a CLI command takes leases without joining
        self._owns_coordinator = coordinator is None
        self.coordinator = coordinator or build_coordinator(snapshot.settings.cluster, member=False)
        # work for other nodes; a CLI command runs its own work here
        self.work = work or LocalQueue(snapshot.settings.cluster.node)
        self.events = events
        self.points = InventoryTagged(points, lambda: self.inventory.devices)
        settings = snapshot.settings
        self.db = StateDB(state_db_path(settings.state_dir))
        self.history = ConfigHistory(history_path(settings.state_dir))
        self.known_hosts = KnownHosts(known_hosts_path(settings.state_dir))
        self.status = StatusBoard(events, snmp_health)
        self.compliance: dict[str, float] = {}  # newest score per device (for /metrics)
        self.backup_lock = asyncio.Lock()
        self.journal = Journal()  # commands sent to devices, until flush_commands()
        self.metric_reader: MetricReader | None = None  # the daemon's store; none in the CLI
        # SSH work other nodes send runs on threads: two parts at a time leave the default
        # executor free for everything else (a part's own sessions are `ssh.concurrency` anyway)
        self.part_slots = asyncio.Semaphore(2)
        self._pending_writes: set[asyncio.Future[object]] = set()
        self.usage = UsageBook(self.db)
        self.llm = LlmLayer(settings.llm, redactor(settings), self.usage.record)
        self._retired: list[LlmLayer] = []  # layers a reload replaced: closed with the core
        self.prompts = PromptBook()  # the prompt library's source is set when plugins load
        self._lifecycle = Lifecycle(
            settings,
            snapshot.inventory,
            self.known_hosts,
            self.history,
            llm=self.llm,
            prompts=self.prompts,
        )

    @classmethod
    def for_tool(cls, snapshot: Snapshot) -> AppCore:
        """A core for one CLI command: events go to the outbox the daemon relays."""
        core = cls(snapshot, events=EventBus(), points=UnkeptPoints(), snmp_health={})
        core.events.listeners.append(core._to_outbox)
        return core

    @property
    def settings(self) -> GenosdSettings:
        """The settings in effect."""
        return self.snapshot.settings

    @property
    def inventory(self) -> Inventory:
        """The inventory in effect."""
        return self.snapshot.inventory

    @property
    def lifecycle(self) -> Lifecycle:
        """Render, validate, plan and deploy over the snapshot in effect."""
        return self._lifecycle

    def use(self, snapshot: Snapshot) -> None:
        """Switch to a new snapshot (a reload); the lifecycle (and the LLM layer, when its
        settings or genosd's secrets changed) is rebuilt over it."""
        old = self.snapshot.settings
        self.snapshot = snapshot
        if old != snapshot.settings:
            self._retired.append(self.llm)
            self.llm = LlmLayer(
                snapshot.settings.llm, redactor(snapshot.settings), self.usage.record
            )
        self._lifecycle = Lifecycle(
            snapshot.settings,
            snapshot.inventory,
            self.known_hosts,
            self.history,
            self._lifecycle.renderer,
            llm=self.llm,
            prompts=self.prompts,
        )

    async def open(self) -> None:
        """Open the state database and read the newest compliance scores."""
        await self.db.open()
        latest = await self.db.run(lambda db: compliance_history(db, latest_only=True))
        self.compliance.update({r.device: r.score for r in latest})

    async def settle(self) -> None:
        """Wait for the writes nobody waited for (outbox events, audit entries of reads, usage
        rows): after it, reads see them."""
        while pending := [f for f in self._pending_writes if not f.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        self._pending_writes.difference_update([f for f in self._pending_writes if f.done()])
        await self.usage.flush()
        await self.flush_commands()

    async def flush_commands(self) -> int:
        """Store the commands sent to devices since the last flush (masked); how many."""
        sent = self.journal.drain()
        if not sent or self.settings.ssh.command_history_days <= 0:
            return 0
        found = await asyncio.to_thread(
            command_store.rows, self.lifecycle, self.inventory.devices, sent
        )
        await self.db.run(command_store.insert, found)
        return len(found)

    async def close(self) -> None:
        """Wait for writes still under way, then close the database."""
        await self.settle()
        for layer in [*self._retired, self.llm]:
            await layer.close()
        if self._owns_coordinator:
            await self.coordinator.stop()
        await self.db.close()

    def _to_outbox(self, event: Event) -> None:
        self._write_behind(self.db.run(outbox.write, event.topic, event.data))

    def _write_behind(self, write: Awaitable[object]) -> None:
        """Start a database write nobody waits for (the database's one worker thread keeps
        the order of writes and reads; close() waits for them)."""
        future = asyncio.ensure_future(write)
        self._pending_writes.add(future)
        future.add_done_callback(self._pending_writes.discard)

    def audit_behind(self, **entry: Any) -> None:
        """Append one audit entry without waiting for it: for records of reads (tool calls that
        change nothing), where the caller should not wait on the disk."""
        self._write_behind(self.db.run(lambda db: audit.record(db, **entry)))

    async def audit(self, **entry: Any) -> None:
        """Append one audit entry (actor, action, target, result, diff_hash, details)."""
        await self.db.run(lambda db: audit.record(db, **entry))


@contextlib.asynccontextmanager
async def tool_core(snapshot: Snapshot) -> AsyncIterator[AppCore]:
    """An open AppCore for the duration of one CLI command."""
    core = AppCore.for_tool(snapshot)
    await core.open()
    try:
        yield core
    finally:
        await core.close()
