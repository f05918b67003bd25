"""Alerting in the daemon: feeds the rule evaluator, keeps what it says as alerts and incidents,
publishes the changes and queues the notifications.

Inputs: every committed batch of points (metric and flapping rules, evaluated as points arrive),
the event bus (syslog messages, traps, core alerts, backup runs), and a job every
`alerts.interval` for device states, the metrics spool, `for` durations and silences. Outputs go
through one consumer task, in order: the alert is stored, joins or opens an incident (unless a
silence or maintenance window covers it), the change is published on the `incident` topic, and
the targets that want it get a notification.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from genosd.alerts.engine import Alert, Evaluator, Transition
from genosd.alerts.silences import Silence, SilenceSpec, silencing
from genosd.app import incidents, notify
from genosd.app.core import AppCore, inventory_tags
from genosd.app.topology import long_name, topology
from genosd.events import Event
from genosd.metrics.model import Point
from genosd.settings import GenosdSettings

log = logging.getLogger(__name__)
EVENT_SOURCES = {"syslog": "syslog", "traps": "traps", "alert": "alert"}
NEIGHBORS_EVERY = 300.0  # s between rebuilds of the neighbour map from the stored facts


async def neighbor_map(core: AppCore) -> dict[tuple[str, str], str]:
    """Each inventory link's ends: (device, interface) → the device at the other end."""
    found: dict[tuple[str, str], str] = {}
    devices = core.inventory.devices
    for link in (await topology(core))["links"]:
        a, b = link["a"], link["b"]
        if a in devices and b in devices:
            found[(a, link["a_interface"])] = b
            found[(b, link["b_interface"])] = a
    return found


def flatten(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's fields as rules match them: a syslog message's structured event fields at the
    top, a trap's varbinds by name without their index (`ifIndex`, `ifOperStatus`)."""
    if topic == "syslog":
        flat = {k: v for k, v in data.items() if k not in ("event", "structured")}
        flat.update(data.get("event") or {})
        return flat
    if topic == "traps":
        flat = {k: v for k, v in data.items() if k != "varbinds"}
        for varbind in data.get("varbinds", []):
            flat.setdefault(str(varbind.get("name", "")).split(".")[0], varbind.get("value"))
        return flat
    return dict(data)


def notification(incident: dict[str, Any], action: str) -> dict[str, Any]:
    """What a notification target gets for an incident change (the same from every front end):
    the incident without its timeline, and its alerts."""
    return {
        "event": action,
        "incident": {k: v for k, v in incident.items() if k not in ("alerts", "timeline")},
        "alerts": [
            {k: a[k] for k in ("rule", "severity", "summary", "labels", "fired_at", "resolved_at")}
            for a in incident.get("alerts", [])
        ],
        "sent_by": "genosd",
    }


def _name_of(topic: str, data: dict[str, Any]) -> str | None:
    if topic == "syslog":
        found = data.get("event")
        return found.get("kind") if found else None
    return data.get("name") if topic == "traps" else data.get("kind")


class AlertService:
    """The evaluator, its inputs and the consumer that stores and announces its transitions."""

    def __init__(self, core: AppCore, spooled: Callable[[], int], registry: CollectorRegistry):
        self.core = core
        self.spooled = spooled
        self.notifier = notify.Notifier(core)
        self.evaluator = Evaluator(core.snapshot.alert_rules, self._device_labels)
        self.silences: list[Silence] = []
        self.transitions = Counter(
            "genosd_alert_transitions",
            "alerts that fired or resolved",
            ["rule", "kind"],
            registry=registry,
        )
        self.firing = Gauge("genosd_alerts_firing", "alerts firing now", registry=registry)
        self._backup_failures: dict[str, str] = {}
        # (device, long interface name) → the inventory device at the other end (LLDP/CDP)
        self.neighbors: dict[tuple[str, str], str] = {}
        self._neighbors_at = 0.0
        self._queue: collections.deque[Transition] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # --- lifecycle ---------------------------------------------------------------------------

    def apply(self, settings: GenosdSettings) -> None:
        """The rules of the snapshot in effect; firing alerts carry over (those whose rule is
        gone resolve at the next evaluation)."""
        del settings  # the rules come with the snapshot
        firing, pending = self.evaluator.firing, self.evaluator.pending
        self.evaluator = Evaluator(self.core.snapshot.alert_rules, self._device_labels)
        self.evaluator.restore(firing.values(), pending.values())

    async def start(self) -> None:
        """Carry firing alerts over from before a restart and start listening."""
        if not self.core.settings.alerts.enabled:
            return
        self.evaluator.restore(await self.core.db.run(incidents.firing_alerts))
        self.silences = await self.core.db.run(incidents.list_silences)
        self.core.events.listeners.append(self._on_event)
        self._task = asyncio.create_task(self._consume(), name="alerts")

    async def stop(self) -> None:
        """Store what is queued, then stop."""
        if self._on_event in self.core.events.listeners:
            self.core.events.listeners.remove(self._on_event)
        await self.settle()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.notifier.close()

    async def settle(self) -> None:
        """Wait until every transition so far is stored and announced."""
        while self._queue or not self._idle.is_set():
            if self._task is None or self._task.done():
                return
            await asyncio.sleep(0.01)

    # --- inputs ------------------------------------------------------------------------------

    def observe_points(self, points: list[Point]) -> None:
        """A pipeline observer: metric and flapping rules over the committed points."""
        if self._task is None:
            return
        wanted = self.evaluator.measurements
        relevant = [p for p in points if p.measurement in wanted]
        if relevant:
            self._submit(self.evaluator.observe_points(relevant, time.time()))

    def _on_event(self, event: Event) -> None:
        source = EVENT_SOURCES.get(event.topic)
        if source is not None:
            if not self.evaluator.wants(source, _name_of(event.topic, event.data)):
                return  # cheap: a syslog receiver publishes every message
            data = flatten(event.topic, event.data)
            self._submit(self.evaluator.observe_event(source, data, event.time))
        elif event.topic == "run" and event.data.get("kind") == "config_backup":
            self._backups(event.data)

    def _backups(self, data: dict[str, Any]) -> None:
        if data.get("status") == "finished":
            for name in data.get("ok", []):
                self._backup_failures.pop(name, None)
            self._backup_failures.update(data.get("failures") or {})

    async def evaluate(self) -> None:
        """The periodic evaluation (a job): states, durations, silences; then notifications."""
        if self._task is None:
            return
        self.silences = await self.core.db.run(incidents.list_silences)
        now = time.time()
        status = self.core.status
        down = {
            d.name for d in self.core.inventory.devices.values() if status.state(d).status == "down"
        }
        failures = {
            name: error
            for name, error in self._backup_failures.items()
            if name in self.core.inventory.devices
        }
        if now - self._neighbors_at > NEIGHBORS_EVERY:
            self._neighbors_at = now
            self.neighbors = await neighbor_map(self.core)
        found = self.evaluator.observe_states(
            now, down=down, backup_failures=failures, spooled=self.spooled()
        )
        self._submit(found + self.evaluator.tick(now))
        self.firing.set(len(self.evaluator.firing))
        await self.settle()
        await self.notifier.deliver()

    # --- outputs -----------------------------------------------------------------------------

    def _submit(self, transitions: list[Transition]) -> None:
        if transitions:
            self._queue.extend(transitions)
            self._idle.clear()
            self._wake.set()

    async def _consume(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            notified = False
            while self._queue:
                transition = self._queue.popleft()
                try:
                    notified |= await self._keep(transition)
                except Exception:  # a full disk must not stop alerting
                    log.exception("alerts: could not store %s", transition.alert.key)
            if notified:
                with contextlib.suppress(Exception):
                    await self.notifier.deliver()
            if not self._queue:
                self._idle.set()

    async def _keep(self, transition: Transition) -> bool:
        """Store one transition and announce it; whether a notification was queued."""
        alert = transition.alert
        self.transitions.labels(alert.rule, transition.kind).inc()
        db = self.core.db
        if transition.kind == "fired":
            silence = silencing(self.silences, alert.labels, transition.at)
            cause = self._cause(alert)
            if cause is not None:
                alert.details = {**alert.details, "caused_by": cause}
            group = self._group_key(alert, cause)
            change = await db.run(incidents.record_fired, alert, group, silence and silence.id)
        else:
            change = await db.run(incidents.record_resolved, alert, transition.at)
        self.core.events.publish(
            "incident",
            {
                "action": f"alert_{transition.kind}",
                "incident": change.incident,
                "alert": _alert_summary(alert, change.alert_id),
                "device": alert.device,
            },
        )
        if change.incident is None or change.action not in ("opened", "escalated", "resolved"):
            return False
        found = await db.run(incidents.get_incident, change.incident)
        return await self.announce(found, change.action)

    async def announce(self, incident: dict[str, Any], action: str) -> bool:
        """Publish an incident change and queue it for the targets that want it."""
        summary = {k: v for k, v in incident.items() if k not in ("alerts", "timeline")}
        self.core.events.publish(
            "incident",
            {"action": action, "incident": incident["id"], "device": summary["labels"].get("device"),
             "summary": summary},
        )  # fmt: skip
        targets = self.notifier.targets(action, incident["severity"])
        if not targets:
            return False
        payload = notification(incident, action)
        await self.core.db.run(notify.enqueue, targets, incident["id"], action, payload)
        return True

    def _group_key(self, alert: Alert, cause: str | None = None) -> str:
        labels = {**alert.labels, "device": cause} if cause else alert.labels
        names = self.core.settings.alerts.group_by
        values = [f"{name}={labels[name]}" for name in names if labels.get(name)]
        return "|".join(values) if values else f"alertname={alert.rule}"

    def _cause(self, alert: Alert) -> str | None:
        """The neighbour that is down at the other end of the alert's interface, if any: its
        incident is where the alert belongs (a device down is one incident, not one more per
        neighbour's port facing it)."""
        device = alert.device
        interface = alert.labels.get("ifName") or alert.labels.get("interface")
        if device is None or interface is None:
            return None
        other = self.neighbors.get((device, long_name(interface)))
        if other is None:
            return None
        found = self.core.inventory.devices.get(other)
        down = found is not None and self.core.status.state(found).status == "down"
        firing = any(
            a.rule == "device_down" and a.device == other for a in self.evaluator.firing.values()
        )
        return other if down or firing else None

    def _device_labels(self, name: str) -> dict[str, str]:
        device = self.core.inventory.devices.get(name)
        return inventory_tags(device) if device is not None else {}


def _alert_summary(alert: Alert, alert_id: int) -> dict[str, Any]:
    return {
        "id": alert_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "summary": alert.summary,
        "labels": alert.labels,
        "value": alert.value,
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
    }


class IncidentDesk:
    """What people do to incidents and silences (API, CLI, ChatOps): each step audited and
    announced like the changes alerts make."""

    def __init__(self, core: AppCore, service: AlertService | None):
        self.core = core
        self.service = (
            service  # None in a CLI process: notifications are queued, sent by the daemon
        )

    async def acknowledge(self, incident: int, actor: str, note: str | None) -> dict[str, Any]:
        """open → acknowledged."""
        await self.core.db.run(incidents.acknowledge, incident, actor, note)
        return await self._after(incident, actor, "acknowledged", {"note": note})

    async def resolve(self, incident: int, actor: str, note: str | None) -> dict[str, Any]:
        """Resolve by hand."""
        await self.core.db.run(incidents.resolve, incident, actor, note)
        return await self._after(incident, actor, "resolved", {"note": note})

    async def note(self, incident: int, actor: str, text: str) -> dict[str, Any]:
        """Add a note to the timeline."""
        await self.core.db.run(incidents.add_note, incident, actor, text)
        await self.core.audit(
            actor=actor, action="incident_note", target=f"incident:{incident}", result="ok"
        )
        return await self.core.db.run(incidents.get_incident, incident)

    async def silence(self, spec: SilenceSpec, actor: str) -> Silence:
        """Start a silence or maintenance window."""
        silence = await self.core.db.run(incidents.add_silence, spec, actor)
        await self.core.audit(
            actor=actor,
            action=f"{silence.kind}_add",
            target=f"silence:{silence.id}",
            result="ok",
            details={"matchers": silence.matchers, "ends_at": silence.ends_at,
                     "comment": silence.comment},
        )  # fmt: skip
        if self.service is not None:
            self.service.silences.append(silence)
        return silence

    async def end_silence(self, silence_id: int, actor: str) -> Silence:
        """End a silence now."""
        silence = await self.core.db.run(incidents.end_silence, silence_id, actor)
        await self.core.audit(
            actor=actor, action=f"{silence.kind}_end", target=f"silence:{silence_id}", result="ok"
        )
        if self.service is not None:
            self.service.silences = [s for s in self.service.silences if s.id != silence_id]
        return silence

    async def _after(
        self, incident: int, actor: str, action: str, details: dict[str, Any]
    ) -> dict[str, Any]:
        await self.core.audit(
            actor=actor,
            action=f"incident_{action}",
            target=f"incident:{incident}",
            result="ok",
            details=details,
        )
        found = await self.core.db.run(incidents.get_incident, incident)
        if self.service is not None:
            if await self.service.announce(found, action):
                await self.service.notifier.deliver()
        else:
            targets = notify.Notifier(self.core).targets(action, found["severity"])
            if targets:
                payload = notification(found, action)
                await self.core.db.run(notify.enqueue, targets, incident, action, payload)
        return found
