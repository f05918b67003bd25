"""A device's health, 0-100, as the weighted mean of what is known about it; each part that is
not perfect says why and how many points it cost. A part with no data is left out (and named),
never counted as perfect or as failed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

WEIGHTS = {
    "reachability": 0.35,
    "cpu": 0.10,
    "memory": 0.10,
    "interfaces": 0.15,
    "compliance": 0.15,
    "backup": 0.15,
}
DOWN_INTERFACE_COST = 15.0  # points of the interfaces part per enabled interface that is down


@dataclass(frozen=True)
class Inputs:
    """What is known of one device (None: not known)."""

    device: str
    groups: tuple[str, ...] = ()
    reachable: bool | None = None
    reach_error: str | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    error_rate: float | None = None  # interface errors per second, all interfaces
    interfaces_down: int | None = None  # enabled but down
    compliance: float | None = None  # 0-100
    backup_age_days: float | None = None
    backup_expected: bool = False  # it has SSH settings, so backups should exist


@dataclass
class Score:
    """A device's score, its parts, and what lowered it (the costliest first)."""

    device: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def _linear(value: float, good: float, bad: float) -> float:
    """100 at or below `good`, 0 at or above `bad`, linear between."""
    if value <= good:
        return 100.0
    if value >= bad:
        return 0.0
    return 100.0 * (bad - value) / (bad - good)


def _parts(i: Inputs) -> tuple[dict[str, float], dict[str, str]]:
    parts: dict[str, float] = {}
    why: dict[str, str] = {}
    if i.reachable is not None:
        parts["reachability"] = 100.0 if i.reachable else 0.0
        if not i.reachable:
            why["reachability"] = "unreachable" + (f": {i.reach_error}" if i.reach_error else "")
    if i.cpu_percent is not None:
        parts["cpu"] = _linear(i.cpu_percent, 70, 100)
        why["cpu"] = f"CPU at {i.cpu_percent:.0f}%"
    if i.memory_percent is not None:
        parts["memory"] = _linear(i.memory_percent, 80, 100)
        why["memory"] = f"memory at {i.memory_percent:.0f}%"
    if i.error_rate is not None or i.interfaces_down is not None:
        rate = max(0.0, i.error_rate or 0.0)
        down = i.interfaces_down or 0
        value = 100.0 - 40.0 * math.log10(1.0 + rate) - DOWN_INTERFACE_COST * down
        parts["interfaces"] = max(0.0, value)
        said = []
        if rate > 0:
            said.append(f"{rate:g} interface errors/s")
        if down:
            said.append(f"{down} enabled interface{'s' if down > 1 else ''} down")
        why["interfaces"] = ", ".join(said)
    if i.compliance is not None:
        parts["compliance"] = max(0.0, min(100.0, i.compliance))
        why["compliance"] = f"compliance {i.compliance:.0f}%"
    if i.backup_age_days is not None:
        parts["backup"] = _linear(i.backup_age_days, 1.5, 7)
        why["backup"] = f"last backup {i.backup_age_days:.1f} days ago"
    elif i.backup_expected:
        parts["backup"] = 0.0
        why["backup"] = "never backed up"
    return parts, why


def score(i: Inputs) -> Score:
    """The device's score from its inputs."""
    parts, why = _parts(i)
    unknown = [name for name in WEIGHTS if name not in parts]
    if not parts:
        return Score(i.device, math.nan, {}, ["nothing known about it yet"], unknown)
    total = sum(WEIGHTS[name] for name in parts)
    value = sum(WEIGHTS[name] * parts[name] for name in parts) / total
    costs = sorted(
        ((WEIGHTS[n] * (100 - p) / total, n) for n, p in parts.items() if p < 100),
        reverse=True,
    )
    reasons = [f"{why[name]} (-{cost:.0f})" for cost, name in costs]
    return Score(
        i.device, round(value, 1), {k: round(v, 1) for k, v in parts.items()}, reasons, unknown
    )


@dataclass
class GroupScore:
    """A group's health: the mean of its devices', its worst device, and how many are poor."""

    group: str
    score: float
    devices: int
    worst: str | None
    worst_score: float | None
    poor: int  # devices under POOR
    reasons: list[str] = field(default_factory=list)


POOR = 70.0


def group_scores(scores: Iterable[Score], groups: dict[str, tuple[str, ...]]) -> list[GroupScore]:
    """Per group (a device counts in each of its groups, and in `all`)."""
    members: dict[str, list[Score]] = {}
    for s in scores:
        if math.isnan(s.score):
            continue
        for group in ("all", *groups.get(s.device, ())):
            members.setdefault(group, []).append(s)
    found = []
    for group, items in sorted(members.items()):
        worst = min(items, key=lambda s: s.score)
        poor = [s for s in items if s.score < POOR]
        reasons = [
            f"{s.device} {s.score:.0f}: {s.reasons[0]}"
            for s in sorted(poor, key=lambda s: s.score)[:5]
            if s.reasons
        ]
        found.append(
            GroupScore(
                group,
                round(sum(s.score for s in items) / len(items), 1),
                len(items),
                worst.device,
                worst.score,
                len(poor),
                reasons,
            )
        )
    return found
