"""Health scores and capacity as the daemon, the API, the CLI and reports use them.

Inputs come from what the daemon knows (status, the local metrics store, compliance scores,
backups); at fleet scale, or from the CLI, the metrics come from InfluxDB instead, in three
grouped InfluxQL queries. Scores are written back as `genosd_health` (per device) and
`genosd_health_group` points so dashboards and alerts can use them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

from genosd.app.core import AppCore
from genosd.app.jobs import Every, Job
from genosd.capacity.analysis import DailyTable, crossing_within, top_growth
from genosd.capacity.forecast import DAY
from genosd.capacity.sources import add_points, daily_from_influx
from genosd.config.backup_state import last_backups
from genosd.errors import InvalidRequestError
from genosd.health.scores import Inputs, Score, group_scores, score
from genosd.inventory import Device
from genosd.metrics.influx_query import InfluxQuery, quote_ident
from genosd.metrics.model import Point

FRESH = 3 * 3600  # a metric older than this says nothing about now


def _use_influx(core: AppCore, source: str, *, prefer_local: bool) -> bool:
    """Whether to read InfluxDB: asked for, or `auto` with a server set (and, when the local
    store is preferred, no local store here)."""
    local = prefer_local and core.metric_reader is not None
    if source == "influx" or (source == "auto" and not local):
        if not core.settings.influx.url:
            if source == "influx":
                raise InvalidRequestError("influx.url is not set: no metrics database to read")
            return False
        return True
    return False


def _from_series(latest: list[dict[str, Any]], now_ns: int) -> dict[str, Any]:
    """cpu, memory, error rate, interfaces down and poll success from a device's newest series."""
    cpu = memory = None
    errors = 0.0
    seen_errors = False
    down = 0
    seen_interfaces = False
    polled: bool | None = None
    for s in latest:
        if now_ns - int(s.get("time_ns") or 0) > FRESH * 1e9:
            continue
        fields = s["fields"]
        if s["measurement"] == "snmp_cpu" and isinstance(fields.get("load_percent"), int | float):
            cpu = max(cpu or 0.0, float(fields["load_percent"]))
        elif s["measurement"] == "snmp_mem" and isinstance(fields.get("used_percent"), int | float):
            memory = max(memory or 0.0, float(fields["used_percent"]))
        elif s["measurement"] == "interface":
            seen_interfaces = True
            for name in ("in_errors_rate", "out_errors_rate"):
                if isinstance(fields.get(name), int | float):
                    errors += float(fields[name])
                    seen_errors = True
            if fields.get("ifAdminStatus") == 1 and fields.get("ifOperStatus") not in (None, 1):
                down += 1
        elif s["measurement"] == "genosd_poll" and "success" in fields:
            polled = bool(fields["success"])
    return {
        "cpu": cpu,
        "memory": memory,
        "errors": errors if seen_errors else None,
        "down": down if seen_interfaces else None,
        "polled": polled,
    }


async def _local_metrics(core: AppCore, devices: list[Device]) -> dict[str, dict[str, Any]]:
    reader = core.metric_reader
    if reader is None:
        return {}
    now_ns = time.time_ns()
    return {d.name: _from_series(await reader.latest(d.name), now_ns) for d in devices}


RECENT = 900  # seconds: the newest poll of every device and interface is in this window


async def influx_metrics(query: InfluxQuery, seconds: float = RECENT) -> dict[str, dict[str, Any]]:
    """Per device: the newest CPU, memory, error rate, interfaces down and poll success of the
    last `seconds`, in four flat queries (tags as columns: no per-series grouping, which costs
    InfluxDB 1.x far more than the rows themselves)."""
    since = f"now() - {int(seconds)}s"
    found: dict[str, dict[str, Any]] = {}

    def slot(device: str) -> dict[str, Any]:
        return found.setdefault(
            device, {"cpu": None, "memory": None, "errors": None, "down": None, "polled": None}
        )

    async def newest(
        select: str, measurement: str, key: tuple[str, ...]
    ) -> dict[tuple[str, ...], dict[str, Any]]:
        rows: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        q = f'SELECT {select}, {", ".join(quote_ident(k) for k in key)} FROM "{measurement}" WHERE time > {since}'
        async for s in query.series(q):
            for values in s.values:
                row = dict(zip(s.columns, values, strict=False))
                ident = tuple(str(row.get(k) or "") for k in key)
                if ident[0] and (ident not in rows or rows[ident][0] <= row["time"]):
                    rows[ident] = (row["time"], row)
        return {k: v for k, (_, v) in rows.items()}

    for (device, _), row in (await newest('"load_percent"', "snmp_cpu", ("device", "cpu"))).items():
        if isinstance(row.get("load_percent"), int | float):
            here = slot(device)
            here["cpu"] = max(here["cpu"] or 0.0, float(row["load_percent"]))
    for (device, _), row in (
        await newest('"used_percent"', "snmp_mem", ("device", "pool"))
    ).items():
        if isinstance(row.get("used_percent"), int | float):
            here = slot(device)
            here["memory"] = max(here["memory"] or 0.0, float(row["used_percent"]))
    interfaces = await newest(
        '"in_errors_rate", "out_errors_rate", "ifOperStatus", "ifAdminStatus"',
        "interface",
        ("device", "ifName"),
    )
    for (device, _), row in interfaces.items():
        if row.get("ifOperStatus") is None and row.get("in_errors_rate") is None:
            continue  # a utilisation rollup point, not a poll
        here = slot(device)
        rate = sum(
            float(row[k])
            for k in ("in_errors_rate", "out_errors_rate")
            if isinstance(row.get(k), int | float)
        )
        here["errors"] = (here["errors"] or 0.0) + rate
        down = row.get("ifAdminStatus") == 1 and row.get("ifOperStatus") not in (None, 1)
        here["down"] = (here["down"] or 0) + int(down)
    for (device,), row in (await newest('"success"', "genosd_poll", ("device",))).items():
        if row.get("success") is not None:
            slot(device)["polled"] = bool(row["success"])
    return found


def inputs_of(
    core: AppCore,
    devices: list[Device],
    metrics: dict[str, dict[str, Any]],
    backups: dict[str, tuple[float | None, str | None]],
    now: float,
) -> list[Inputs]:
    """Each device's inputs: the status board first, then the metrics."""
    found = []
    for device in devices:
        state = core.status.state(device)
        seen = metrics.get(device.name, {})
        reachable: bool | None = None
        error = None
        if state.status in ("up", "down"):
            reachable = state.status == "up"
            error = state.health.last_error if state.health else None
        elif seen.get("polled") is not None:
            reachable = bool(seen["polled"])
        vitals = core.status.vitals.get(device.name)
        last_ok = backups.get(device.name, (None, None))[0]
        found.append(
            Inputs(
                device.name,
                device.groups,
                reachable,
                error,
                seen.get("cpu")
                if seen.get("cpu") is not None
                else (vitals.cpu_percent if vitals else None),
                seen.get("memory"),
                seen.get("errors"),
                seen.get("down"),
                core.compliance.get(device.name),
                (now - last_ok) / DAY if last_ok else None,
                backup_expected=device.ssh is not None,
            )
        )
    return found


async def health(core: AppCore, source: str = "auto") -> dict[str, Any]:
    """Every device's score and every group's, with what lowered them."""
    devices = list(core.inventory.devices.values())
    now = time.time()
    if _use_influx(core, source, prefer_local=True):
        query = InfluxQuery(core.settings.influx)
        try:
            metrics = await influx_metrics(query)
        finally:
            await query.close()
    else:
        metrics = await _local_metrics(core, devices)
    backups = await core.db.run(last_backups)
    scores = [score(i) for i in inputs_of(core, devices, metrics, backups, now)]
    groups = group_scores(scores, {d.name: d.groups for d in devices})
    known = [s for s in scores if not math.isnan(s.score)]
    return {
        "at": now,
        "devices": [_score_out(s) for s in sorted(scores, key=_order)],
        "groups": [asdict(g) for g in groups],
        "unknown": [s.device for s in scores if math.isnan(s.score)],
        "fleet": round(sum(s.score for s in known) / len(known), 1) if known else None,
    }


def _order(s: Score) -> tuple[float, str]:
    return (101.0 if math.isnan(s.score) else s.score, s.device)


def _score_out(s: Score) -> dict[str, Any]:
    out = asdict(s)
    out["score"] = None if math.isnan(s.score) else s.score
    return out


def health_points(report: dict[str, Any]) -> list[Point]:
    """`genosd_health` per device (score and parts) and `genosd_health_group` per group."""
    ts = int(report["at"] * 1e9)
    points = []
    for d in report["devices"]:
        if d["score"] is None:
            continue
        fields: dict[str, Any] = {"score": float(d["score"])}
        fields.update({f"{k}_score": float(v) for k, v in d["parts"].items()})
        if d["reasons"]:
            fields["reason"] = d["reasons"][0][:200]
        points.append(Point("genosd_health", {"device": d["device"]}, fields, ts))
    for g in report["groups"]:
        points.append(
            Point(
                "genosd_health_group",
                {"group": g["group"]},
                {"score": float(g["score"]), "devices": g["devices"], "poor": g["poor"]},
                ts,
            )
        )
    return points


def health_job(core: AppCore) -> Job:
    """Write the scores to the metrics every `health.interval` seconds (0: off)."""

    async def run() -> None:
        report = await health(core, core.settings.health.source)
        await core.points.commit(health_points(report))

    def schedule() -> Every | None:
        interval = core.settings.health.interval
        return Every(interval) if interval else None

    return Job("health_scores", "genosd", run, schedule, singleton=True)


async def capacity(
    core: AppCore,
    *,
    days: int | None = None,
    threshold: float | None = None,
    source: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Per-link percentiles, trend and forecast over the window: the links crossing the
    threshold within the horizon, the fastest growing, and counts."""
    settings = core.settings.capacity
    days = days or settings.days
    threshold = threshold or settings.threshold
    now = time.time()
    if _use_influx(core, source or settings.source, prefer_local=False):
        query = InfluxQuery(core.settings.influx)
        try:
            table = await daily_from_influx(query, days, now, settings.measurement)
        finally:
            await query.close()
        origin = f"influxdb {settings.measurement}"
    else:
        table = DailyTable(now - (days - 1) * DAY, days)
        reader = core.metric_reader
        if reader is not None:
            since = int(table.start * 1e9)
            for device in core.inventory.devices.values():
                add_points(
                    table, device.name, await reader.points_since(device.name, "interface", since)
                )
        origin = "local store"
    links = table.analyse(threshold, now)
    soon = crossing_within(links, settings.horizon_days)
    return {
        "at": now,
        "source": origin,
        "days": days,
        "threshold": threshold,
        "horizon_days": settings.horizon_days,
        "links": len(links),
        "with_trend": sum(x.slope_per_day is not None for x in links),
        "crossing": [asdict(x) for x in soon[:limit]],
        "crossing_total": len(soon),
        "top_growth": [asdict(x) for x in top_growth(links, limit)],
        "busiest": [
            asdict(x)
            for x in sorted(
                (x for x in links if x.p95 is not None), key=lambda x: x.p95 or 0, reverse=True
            )[:limit]
        ],
    }
