"""Device, group and tag resources: status, latest metrics, facts, and on-demand polls."""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import (
    DeviceList,
    DeviceMetrics,
    DeviceOut,
    DeviceQuery,
    FactsOut,
    FactsRunOut,
    GroupList,
    GroupOut,
    MetricsQuery,
    PageQuery,
    PollOut,
    SeriesOut,
    SnmpOut,
    Strict,
    TagList,
    TagOut,
)
from genosd.app import facts
from genosd.app.runtime import Runtime
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.inventory import Device
from genosd.metrics.window import history

routes = Api("genosd", __version__)


def _device_out(runtime: Runtime, device: Device) -> DeviceOut:
    state = runtime.core.status.state(device)
    health = state.health
    vitals = runtime.core.status.vitals.get(device.name)
    # built from the daemon's own validated objects: construct without re-validating (hot path)
    return DeviceOut.model_construct(
        name=device.name,
        hostname=device.hostname,
        platform=device.platform,
        groups=list(device.groups),
        tags=list(device.tags),
        site=device.site,
        role=device.role,
        snmp=None
        if device.snmp is None
        else SnmpOut.model_construct(
            version=device.snmp.version, port=device.snmp.port, interval=device.snmp.interval
        ),
        status=state.status,
        status_source=state.source,
        last_poll=health.last_poll if health else None,
        last_success=health.last_success if health else None,
        last_error=health.last_error if health else None,
        uptime_seconds=vitals.uptime_seconds if vitals else None,
        cpu_percent=vitals.cpu_percent if vitals else None,
        error_rate=vitals.error_rate if vitals else None,
        compliance=runtime.core.compliance.get(device.name),
    )


@routes.route(
    "GET",
    "/api/v1/devices",
    tag="devices",
    role=Role.viewer,
    query=DeviceQuery,
    response=DeviceList,
)
async def list_devices(request: web.Request, query: DeviceQuery) -> DeviceList:
    """Devices matching every given filter, in name order."""
    runtime = runtime_of(request)
    filters = query.model_dump(exclude_none=True, exclude={"limit", "offset", "status"})
    devices = runtime.core.inventory.select(filters)
    if query.status is not None:
        status = runtime.core.status
        devices = [d for d in devices if status.state(d).status == query.status]
    page = [_device_out(runtime, d) for d in devices[query.offset : query.offset + query.limit]]
    return DeviceList.model_construct(
        items=page, total=len(devices), limit=query.limit, offset=query.offset
    )


@routes.route("GET", "/api/v1/devices/{name}", tag="devices", role=Role.viewer, response=DeviceOut)
async def get_device(request: web.Request) -> DeviceOut:
    """One device and its health."""
    runtime = runtime_of(request)
    return _device_out(runtime, runtime.core.inventory.device(request.match_info["name"]))


@routes.route(
    "GET",
    "/api/v1/devices/{name}/metrics",
    tag="devices",
    role=Role.viewer,
    query=MetricsQuery,
    response=DeviceMetrics,
)
async def get_device_metrics(request: web.Request, query: MetricsQuery) -> DeviceMetrics:
    """The newest value of every series of one device, from the local store."""
    runtime = runtime_of(request)
    device = runtime.core.inventory.device(request.match_info["name"])
    series = await runtime.pipeline.store.latest(device.name)
    if query.measurement:
        series = [s for s in series if s["measurement"] == query.measurement]
    return DeviceMetrics(device=device.name, series=[SeriesOut(**s) for s in series])


class HistoryQuery(Strict):
    """One field of one measurement over the last minutes (the local store keeps
    store.retention_hours)."""

    measurement: str = Field("interface", max_length=64)
    field: str = Field("in_bps", max_length=64)
    minutes: float = Field(60, gt=0, le=7 * 24 * 60)
    match: str | None = Field(None, max_length=200, description="a glob on the series' name")
    points: int = Field(120, ge=2, le=2000, description="at most this many samples per series")


class HistorySeries(BaseModel):
    """One series: its tags and [unix ms, value] samples, oldest first."""

    series: str | None
    tags: dict[str, str]
    points: list[list[float]]


class DeviceHistory(BaseModel):
    """A field's history per series of one device."""

    device: str
    measurement: str
    field: str
    series: list[HistorySeries]


@routes.route(
    "GET",
    "/api/v1/devices/{name}/metrics/history",
    tag="devices",
    role=Role.viewer,
    query=HistoryQuery,
    response=DeviceHistory,
)
async def get_device_history(request: web.Request, query: HistoryQuery) -> DeviceHistory:
    """One field over time per series (interface) of a device, from the local store."""
    runtime = runtime_of(request)
    device = runtime.core.inventory.device(request.match_info["name"])
    since = time.time_ns() - int(query.minutes * 60e9)
    points = await runtime.pipeline.store.points_since(device.name, query.measurement, since)
    found = history(points, query.field, query.match, query.points)
    return DeviceHistory(
        device=device.name,
        measurement=query.measurement,
        field=query.field,
        series=[HistorySeries(**s) for s in found],
    )


@routes.route(
    "POST",
    "/api/v1/devices/{name}/poll",
    tag="devices",
    role=Role.operator,
    response=PollOut,
    conflicts=True,
)
async def poll_device_now(request: web.Request) -> PollOut:
    """Poll one device now, outside its schedule; the result also feeds the metrics pipeline."""
    poll = await runtime_of(request).poller.poll_now(request.match_info["name"], actor_of(request))
    return PollOut(
        device=poll.device,
        ok=poll.ok,
        error=poll.error,
        duration=poll.duration,
        requests=poll.requests,
        varbinds=poll.varbinds,
        interfaces=len(poll.interfaces),
        problems=poll.problems,
    )


@routes.route(
    "GET", "/api/v1/devices/{name}/facts", tag="devices", role=Role.viewer, response=FactsOut
)
async def get_facts(request: web.Request) -> FactsOut:
    """The device's newest facts: version, interfaces, addresses, LLDP/CDP neighbours, ARP."""
    found = await facts.stored(runtime_of(request).core, request.match_info["name"])
    return FactsOut(
        device=found.device,
        collected_at=found.collected_at,
        facts=found.facts,
        errors=found.errors,
    )


@routes.route(
    "POST",
    "/api/v1/devices/{name}/facts",
    tag="devices",
    role=Role.operator,
    response=FactsRunOut,
    conflicts=True,
)
async def collect_now(request: web.Request) -> FactsRunOut:
    """Collect the device's facts over SSH now."""
    result = await facts.collect_one(
        runtime_of(request).core, request.match_info["name"], actor_of(request)
    )
    return FactsRunOut(
        device=result.device,
        ok=result.ok,
        error=result.error,
        kinds=sorted(result.facts),
        errors=result.errors,
        duration=round(result.duration, 3),
    )


@routes.route(
    "GET", "/api/v1/groups", tag="devices", role=Role.viewer, query=PageQuery, response=GroupList
)
async def list_groups(request: web.Request, query: PageQuery) -> GroupList:
    """Inventory groups and their member counts."""
    inventory = runtime_of(request).core.inventory
    items = [
        GroupOut(name=name, devices=len(members))
        for name, members in sorted(inventory.groups.items())
    ]
    page = items[query.offset : query.offset + query.limit]
    return GroupList(items=page, total=len(items), limit=query.limit, offset=query.offset)


@routes.route(
    "GET", "/api/v1/tags", tag="devices", role=Role.viewer, query=PageQuery, response=TagList
)
async def list_tags(request: web.Request, query: PageQuery) -> TagList:
    """Tags in use and how many devices carry each."""
    counts: dict[str, int] = {}
    for device in runtime_of(request).core.inventory.devices.values():
        for tag in device.tags:
            counts[tag] = counts.get(tag, 0) + 1
    items = [TagOut(name=name, devices=n) for name, n in sorted(counts.items())]
    page = items[query.offset : query.offset + query.limit]
    return TagList(items=page, total=len(items), limit=query.limit, offset=query.offset)
