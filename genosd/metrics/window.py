"""A device's metrics over a time window, summarised per series: what the assistant and people
ask ("how busy was the uplink over the last hour", "when did the errors start")."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from genosd.metrics.model import Point

# Without a field list: rates, utilisation, status and resources, not raw counters
DEFAULT_FIELDS = (
    "in_bps",
    "out_bps",
    "in_pps",
    "out_pps",
    "in_errors_rate",
    "out_errors_rate",
    "in_discards_rate",
    "out_discards_rate",
    "in_utilization",
    "out_utilization",
    "ifOperStatus",
    "ifAdminStatus",
    "load_percent",
    "used_percent",
    "uptime",
)
NAME_TAGS = ("ifName", "ifDescr", "ifIndex", "cpu", "pool", "name")


@dataclass
class _Stats:
    samples: int = 0
    first: float = 0.0
    last: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    total: float = 0.0
    changes: int = 0
    high_at: int = 0

    def add(self, value: float, at: int) -> None:
        if self.samples and value != self.last:
            self.changes += 1
        if not self.samples:
            self.first = value
        if value > self.high:
            self.high, self.high_at = value, at
        self.low = min(self.low, value)
        self.last = value
        self.total += value
        self.samples += 1

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "first": self.first,
            "last": self.last,
            "min": self.low,
            "max": self.high,
            "max_at_ns": self.high_at,
            "mean": round(self.total / self.samples, 6),
            "changes": self.changes,
        }


@dataclass
class _Series:
    tags: dict[str, str]
    start: int = 0
    end: int = 0
    fields: dict[str, _Stats] = field(default_factory=dict)


def series_name(tags: dict[str, str]) -> str | None:
    """How a series is called (an interface's name), if its tags say."""
    return next((tags[t] for t in NAME_TAGS if tags.get(t)), None)


def summarise(
    points: list[Point], fields: list[str] | None = None, match: str | None = None
) -> list[dict[str, Any]]:
    """Per series (tag set) and numeric field: samples, first, last, min, max (and when),
    mean and how often it changed; `match` a glob on the series' name (`Gi0/*`)."""
    wanted = set(fields) if fields else set(DEFAULT_FIELDS)
    found: dict[tuple[tuple[str, str], ...], _Series] = {}
    for point in sorted(points, key=lambda p: p.time_ns):
        name = series_name(point.tags)
        if match is not None and (name is None or not fnmatch.fnmatchcase(name, match)):
            continue
        key = tuple(sorted(point.tags.items()))
        series = found.get(key)
        if series is None:
            series = found[key] = _Series(dict(point.tags), point.time_ns)
        series.end = point.time_ns
        for name_, value in point.fields.items():
            if name_ in wanted and isinstance(value, int | float) and not isinstance(value, bool):
                series.fields.setdefault(name_, _Stats()).add(float(value), point.time_ns)
    return [
        {
            "series": series_name(s.tags),
            "tags": s.tags,
            "from_ns": s.start,
            "to_ns": s.end,
            "fields": {n: st.summary() for n, st in sorted(s.fields.items())},
        }
        for s in found.values()
        if s.fields
    ]


def history(
    points: list[Point], field: str, match: str | None = None, max_points: int = 120
) -> list[dict[str, Any]]:
    """Per series, `field`'s values over time (oldest first), thinned to at most `max_points`
    (each kept sample the mean of the ones it stands for): what a sparkline draws."""
    found: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[int, float]]]] = {}
    for point in sorted(points, key=lambda p: p.time_ns):
        value = point.fields.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        name = series_name(point.tags)
        if match is not None and (name is None or not fnmatch.fnmatchcase(name, match)):
            continue
        key = tuple(sorted(point.tags.items()))
        found.setdefault(key, (dict(point.tags), []))[1].append((point.time_ns, float(value)))
    out = []
    for tags, samples in found.values():
        step = max(1, -(-len(samples) // max_points))
        thinned = [
            (
                samples[i][0],
                sum(v for _, v in samples[i : i + step]) / len(samples[i : i + step]),
            )
            for i in range(0, len(samples), step)
        ]
        out.append(
            {
                "series": series_name(tags),
                "tags": tags,
                "points": [[t // 1_000_000, round(v, 3)] for t, v in thinned],
            }
        )
    return out
