"""Counting interface state changes per port over a sliding window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from genosd.plugin import Point

Publish = Callable[[str, dict[str, Any]], None]
OPER_STATUS = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}


class Flap(BaseModel):
    """A port that changed state at least `threshold` times within the window."""

    device: str
    interface: str
    changes: int
    status: str
    last_change: float
    alerted_at: float | None


@dataclass
class _Port:
    status: int
    changes: deque[float] = field(default_factory=deque)
    alerted_at: float | None = None


class FlapDetector:
    """Feeds on `interface` points; publishes an alert when a port flaps."""

    def __init__(self, window: float, threshold: int, hold_down: float, publish: Publish):
        self.window = window
        self.threshold = threshold
        self.hold_down = hold_down
        self.publish = publish
        self.ports: dict[tuple[str, str], _Port] = {}

    def observe(self, points: list[Point]) -> None:
        """Take one batch of committed points."""
        for point in points:
            if point.measurement != "interface":
                continue
            status = point.fields.get("ifOperStatus")
            if not isinstance(status, int):
                continue
            device = point.tags.get("device") or point.tags.get("agent_host", "?")
            name = point.tags.get("ifName") or point.tags.get("ifDescr") or point.tags["ifIndex"]
            self._update(device, name, status, point.time_ns / 1e9)

    def _update(self, device: str, interface: str, status: int, when: float) -> None:
        port = self.ports.get((device, interface))
        if port is None:
            self.ports[(device, interface)] = _Port(status)
            return
        if status == port.status:
            return
        port.status = status
        port.changes.append(when)
        self._expire(port, when)
        if len(port.changes) < self.threshold:
            return
        if port.alerted_at is not None and when - port.alerted_at < self.hold_down:
            return
        port.alerted_at = when
        data = {
            "device": device,
            "interface": interface,
            "changes": len(port.changes),
            "window": self.window,
            "status": OPER_STATUS.get(status, str(status)),
        }
        self.publish("flapdetect.flap", data)
        self.publish(
            "alert",
            {
                **data,
                "severity": "warning",
                "kind": "interface_flap",
                "message": f"{device} {interface} changed state "
                f"{len(port.changes)} times in {self.window:g}s",
            },
        )

    def _expire(self, port: _Port, now: float) -> None:
        while port.changes and now - port.changes[0] > self.window:
            port.changes.popleft()

    def prune(self, now: float | None = None) -> None:
        """Forget changes older than the window (the periodic job)."""
        now = time.time() if now is None else now
        for port in self.ports.values():
            self._expire(port, now)

    def flapping(self, device: str | None = None) -> list[Flap]:
        """Ports at or over the threshold now, most changes first."""
        out = [
            Flap(
                device=d,
                interface=i,
                changes=len(p.changes),
                status=OPER_STATUS.get(p.status, str(p.status)),
                last_change=p.changes[-1],
                alerted_at=p.alerted_at,
            )
            for (d, i), p in self.ports.items()
            if len(p.changes) >= self.threshold and (device is None or d == device)
        ]
        return sorted(out, key=lambda f: (-f.changes, f.device, f.interface))
