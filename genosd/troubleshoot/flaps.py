"""Interfaces that flap: how often their operational status changed over the poll history."""

from __future__ import annotations

import time
from collections.abc import Iterable

from genosd.metrics.model import Point
from genosd.metrics.window import series_name
from genosd.troubleshoot.findings import Finding


def flaps(device: str, points: Iterable[Point], minutes: float, threshold: int) -> list[Finding]:
    """A finding per interface whose ifOperStatus changed at least `threshold` times."""
    changes: dict[str, list[int]] = {}
    last: dict[str, object] = {}
    for point in sorted(points, key=lambda p: p.time_ns):
        status = point.fields.get("ifOperStatus")
        name = series_name(point.tags)
        if status is None or name is None:
            continue
        if name in last and last[name] != status:
            changes.setdefault(name, []).append(point.time_ns)
        last[name] = status
    found = []
    for name, times in sorted(changes.items()):
        if len(times) < threshold:
            continue
        ago = (time.time_ns() - times[-1]) / 1e9
        found.append(
            Finding(
                "flapping",
                "critical" if len(times) >= 2 * threshold else "warning",
                device,
                name,
                f"went up or down {len(times)} times in {minutes:g} minutes, the last "
                f"{ago:.0f} s ago (now {'up' if last[name] == 1 else 'down'})",
                "an unstable link: check the optic levels, the cable and the far end's logs; "
                "dampen it (`carrier-delay`, link debounce) only once the cause is known",
                {"changes": len(times), "last_change_ns": times[-1]},
            )
        )
    return found
