"""Where daily utilisation comes from: InfluxDB (the percentile computed by the server, per day
and link, over raw Telegraf-schema points or a rollup of them), or the local metrics store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from genosd.capacity.analysis import DailyTable
from genosd.capacity.forecast import DAY
from genosd.metrics.influx_query import InfluxQuery, quote_ident
from genosd.metrics.model import Point
from genosd.metrics.window import series_name


def daily_query(measurement: str, start: float) -> str:
    """The InfluxQL of daily 95th percentiles and maxima per device and interface."""
    m = quote_ident(measurement)
    return (
        'SELECT percentile("in_utilization", 95) AS in_p95, '
        'percentile("out_utilization", 95) AS out_p95, '
        'max("in_utilization") AS in_max, max("out_utilization") AS out_max '
        f"FROM {m} WHERE time >= {int(start)}s "
        'GROUP BY time(1d), "device", "ifName" fill(none)'
    )


async def daily_from_influx(
    query: InfluxQuery, days: int, now: float, measurement: str = "interface"
) -> DailyTable:
    """The window's daily table, read from InfluxDB."""
    table = DailyTable(now - (days - 1) * DAY, days)
    async for series in query.series(daily_query(measurement, table.start)):
        device = series.tags.get("device", "")
        interface = series.tags.get("ifName", "")
        if not device or not interface:
            continue
        at = {name: position for position, name in enumerate(series.columns)}
        t, ip, op, im, om = (at.get(c) for c in ("time", "in_p95", "out_p95", "in_max", "out_max"))
        for row in series.values:
            table.add(
                device,
                interface,
                float(row[t or 0]),
                (_get(row, ip), _get(row, op)),
                (_get(row, im), _get(row, om)),
            )
    return table


def _get(row: list[object], index: int | None) -> float | None:
    if index is None:
        return None
    value = row[index]
    return float(value) if isinstance(value, int | float) else None


def add_points(table: DailyTable, device: str, points: Iterable[Point]) -> None:
    """Fold a device's raw `interface` points (the local store) into the daily table."""
    by_day: dict[tuple[str, float], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for point in points:
        name = series_name(point.tags)
        if name is None:
            continue
        day = point.time_ns / 1e9 // DAY * DAY
        pair = by_day[(name, day)]
        for direction, field in enumerate(("in_utilization", "out_utilization")):
            value = point.fields.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                pair[direction].append(float(value))
    for (name, day), (ins, outs) in by_day.items():
        p95 = tuple(float(np.percentile(v, 95)) if v else None for v in (ins, outs))
        peak = tuple(max(v) if v else None for v in (ins, outs))
        table.add(device, name, day, (p95[0], p95[1]), (peak[0], peak[1]))
