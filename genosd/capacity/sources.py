"""Where daily utilisation comes from: InfluxDB (the percentile computed by the server, per day
and link, over raw Telegraf-schema points or a rollup of them), or the local metrics store."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from genosd.capacity.analysis import DailyTable
from genosd.capacity.forecast import DAY
from genosd.metrics.influx_query import InfluxQuery, quote_ident
from genosd.metrics.model import Point
from genosd.metrics.window import series_name

SETTLE_EVERY = 1_000_000  # samples held before the complete days are folded into the table


def samples_query(measurement: str, start: float) -> str:
    """The InfluxQL of every utilisation sample since `start`, tags as columns: one flat answer
    (InfluxDB 1.x spends most of a grouped query on per-series iterators; measured 5-12x)."""
    m = quote_ident(measurement)
    return (
        'SELECT "in_utilization", "out_utilization", "device", "ifName" '
        f"FROM {m} WHERE time >= {int(start)}s"
    )


async def daily_from_influx(
    query: InfluxQuery, days: int, now: float, measurement: str = "interface"
) -> DailyTable:
    """The window's daily table from the samples in InfluxDB (raw Telegraf-schema points or a
    rollup with the same fields: the day's 95th percentile is taken here either way)."""
    table = DailyTable(now - (days - 1) * DAY, days)
    async for series in query.series(samples_query(measurement, table.start)):
        at = {name: position for position, name in enumerate(series.columns)}
        needed = ("time", "in_utilization", "out_utilization", "device", "ifName")
        if any(c not in at for c in needed) or not series.values:
            continue
        columns = list(zip(*series.values, strict=True))
        devices, interfaces = columns[at["device"]], columns[at["ifName"]]
        if not (all(devices) and all(interfaces)):  # rows without the tags are not links
            keep = [n for n, (d, i) in enumerate(zip(devices, interfaces, strict=True)) if d and i]
            columns = [tuple(c[n] for n in keep) for c in columns]
            devices, interfaces = columns[at["device"]], columns[at["ifName"]]
        times = np.asarray(columns[at["time"]], dtype=np.float64)
        table.add_samples(
            list(devices),
            list(interfaces),
            times,
            (_floats(columns[at["in_utilization"]]), _floats(columns[at["out_utilization"]])),
        )
        if table.pending >= SETTLE_EVERY:
            # the answer comes in time order: the days before this chunk's last are complete
            table.settle(before_day=int((times[-1] - table.start) // DAY))
    table.settle()
    return table


def _floats(values: tuple[object, ...]) -> np.ndarray:
    return np.asarray(
        [v if isinstance(v, int | float) else np.nan for v in values], dtype=np.float64
    )


def add_points(table: DailyTable, device: str, points: Iterable[Point]) -> None:
    """Fold a device's raw `interface` points (the local store) into the daily table, the same
    way as the samples read from InfluxDB."""
    names, times, ins, outs = [], [], [], []
    for point in points:
        name = series_name(point.tags)
        if name is None:
            continue
        names.append(name)
        times.append(point.time_ns / 1e9)
        ins.append(point.fields.get("in_utilization"))
        outs.append(point.fields.get("out_utilization"))
    if names:
        table.add_samples(
            [device] * len(names),
            names,
            np.asarray(times, dtype=np.float64),
            (_floats(tuple(ins)), _floats(tuple(outs))),
        )
