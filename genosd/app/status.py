"""Device status: up, down or unknown, from SNMP polls, or from SSH sessions for SSH-only devices.

A device polled over SNMP takes its status from its polls. A device genosd reaches only over SSH
(facts, backups) takes it from its newest SSH session: it answered (up) or not (down). A change of
status is published once as a `device.status` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from genosd.collectors.scheduler import DeviceHealth, DeviceStatus
from genosd.events import EventBus
from genosd.inventory import Device
from genosd.metrics.model import Point

StatusSource = Literal["snmp", "ssh"]


@dataclass(frozen=True)
class DeviceState:
    """A device's status and where it comes from."""

    status: DeviceStatus
    source: StatusSource | None
    health: DeviceHealth | None


@dataclass(frozen=True)
class Vitals:
    """What a device table shows of a device's newest answered poll."""

    uptime_seconds: float | None = None
    cpu_percent: float | None = None  # the busiest processor
    error_rate: float | None = None  # interface errors per second, in and out, all interfaces


def vitals_of(points: list[Point]) -> Vitals:
    """A poll's vitals from its points."""
    uptime = cpu = None
    errors = 0.0
    seen_errors = False
    for point in points:
        fields = point.fields
        if point.measurement == "snmp" and isinstance(fields.get("uptime"), int | float):
            uptime = float(fields["uptime"]) / 100
        elif point.measurement == "snmp_cpu" and isinstance(
            fields.get("load_percent"), int | float
        ):
            cpu = max(cpu or 0.0, float(fields["load_percent"]))
        elif point.measurement == "interface":
            for name in ("in_errors_rate", "out_errors_rate"):
                value = fields.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    errors += float(value)
                    seen_errors = True
    return Vitals(uptime, cpu, round(errors, 3) if seen_errors else None)


class StatusBoard:
    """SNMP health (owned by the poll scheduler) and SSH health, one status per device."""

    def __init__(self, events: EventBus, snmp: dict[str, DeviceHealth]):
        self.events = events
        self.snmp = snmp
        self.ssh: dict[str, DeviceHealth] = {}
        self.published: dict[str, DeviceStatus] = {}
        self.vitals: dict[str, Vitals] = {}  # from each device's newest answered poll

    def state(self, device: Device) -> DeviceState:
        """The device's current status."""
        if device.snmp is not None:
            health = self.snmp.get(device.name)
            return DeviceState(health.status if health else "unknown", "snmp", health)
        health = self.ssh.get(device.name)
        if health is not None:
            return DeviceState(health.status, "ssh", health)
        return DeviceState("unknown", None, None)

    def record_ssh(self, device: Device, ok: bool, error: str | None, duration: float) -> None:
        """The outcome of one SSH session (facts or backup) with the device."""
        health = self.ssh.setdefault(device.name, DeviceHealth())
        now = time.time()
        health.last_poll, health.last_duration = now, duration
        if ok:
            health.consecutive_failures, health.last_error, health.last_success = 0, None, now
        else:
            health.consecutive_failures += 1
            health.last_error = error
        if device.snmp is None:
            self.publish_change(device, error)

    def publish_change(self, device: Device, error: str | None) -> None:
        """Publish `device.status` if the device's status differs from the last one published."""
        status = self.state(device).status
        previous = self.published.get(device.name, "unknown")
        if status != previous:
            self.published[device.name] = status
            self.events.publish(
                "device.status",
                {"device": device.name, "status": status, "previous": previous, "error": error},
            )

    def forget(self, names: set[str]) -> None:
        """Drop devices that left the inventory."""
        for name in names:
            self.ssh.pop(name, None)
            self.published.pop(name, None)

    def counts(self, devices: list[Device]) -> dict[str, int]:
        """How many devices are up, down and unknown."""
        counts = {"up": 0, "down": 0, "unknown": 0}
        for device in devices:
            counts[self.state(device).status] += 1
        return counts
