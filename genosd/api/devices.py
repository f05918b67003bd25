"""Device, group and tag resources, latest metrics, and on-demand polls."""

from __future__ import annotations

from aiohttp import web

from genosd import __version__, audit
from genosd.api.models import (
    DeviceList,
    DeviceMetrics,
    DeviceOut,
    DeviceQuery,
    GroupList,
    GroupOut,
    MetricsQuery,
    PageQuery,
    PollOut,
    SeriesOut,
    SnmpOut,
    TagList,
    TagOut,
)
from genosd.api.spec import PRINCIPAL, Api
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.collectors.scheduler import DeviceStatus
from genosd.errors import InvalidRequestError
from genosd.inventory import Device

routes = Api("genosd", __version__)


def _status(state: DaemonState, device: Device) -> DeviceStatus:
    health = state.scheduler.health.get(device.name) if state.scheduler else None
    return health.status if health else "unknown"


def _device_out(state: DaemonState, device: Device) -> DeviceOut:
    health = state.scheduler.health.get(device.name) if state.scheduler else None
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
        status=health.status if health else "unknown",
        last_poll=health.last_poll if health else None,
        last_success=health.last_success if health else None,
        last_error=health.last_error if health else None,
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
    state = request.app[STATE]
    filters = query.model_dump(exclude_none=True, exclude={"limit", "offset", "status"})
    devices = state.inventory.select(filters)
    if query.status is not None:
        devices = [d for d in devices if _status(state, d) == query.status]
    page = [_device_out(state, d) for d in devices[query.offset : query.offset + query.limit]]
    return DeviceList.model_construct(
        items=page, total=len(devices), limit=query.limit, offset=query.offset
    )


@routes.route("GET", "/api/v1/devices/{name}", tag="devices", role=Role.viewer, response=DeviceOut)
async def get_device(request: web.Request) -> DeviceOut:
    """One device and its polling health."""
    state = request.app[STATE]
    return _device_out(state, state.inventory.device(request.match_info["name"]))


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
    state = request.app[STATE]
    device = state.inventory.device(request.match_info["name"])
    assert state.store is not None
    series = await state.store.latest(device.name)
    if query.measurement:
        series = [s for s in series if s["measurement"] == query.measurement]
    return DeviceMetrics(device=device.name, series=[SeriesOut(**s) for s in series])


@routes.route(
    "POST", "/api/v1/devices/{name}/poll", tag="devices", role=Role.operator, response=PollOut
)
async def poll_device_now(request: web.Request) -> PollOut:
    """Poll one device now, outside its schedule; the result also feeds the metrics pipeline."""
    state = request.app[STATE]
    device = state.inventory.device(request.match_info["name"])
    if device.snmp is None or state.scheduler is None:
        raise InvalidRequestError(f"device {device.name!r} has no SNMP settings")
    poll = await state.scheduler.poll_once(device)
    assert state.statedb is not None
    actor = request[PRINCIPAL].principal
    await state.statedb.run(
        lambda db: audit.record(
            db,
            actor=actor,
            action="poll_device_now",
            target=f"device:{device.name}",
            result="ok" if poll.ok else "failed",
            details={"error": poll.error},
        )
    )
    return PollOut(
        device=device.name,
        ok=poll.ok,
        error=poll.error,
        duration=poll.duration,
        requests=poll.requests,
        varbinds=poll.varbinds,
        interfaces=len(poll.interfaces),
        problems=poll.problems,
    )


@routes.route(
    "GET", "/api/v1/groups", tag="devices", role=Role.viewer, query=PageQuery, response=GroupList
)
async def list_groups(request: web.Request, query: PageQuery) -> GroupList:
    """Inventory groups and their member counts."""
    state = request.app[STATE]
    items = [
        GroupOut(name=name, devices=len(members))
        for name, members in sorted(state.inventory.groups.items())
    ]
    page = items[query.offset : query.offset + query.limit]
    return GroupList(items=page, total=len(items), limit=query.limit, offset=query.offset)


@routes.route(
    "GET", "/api/v1/tags", tag="devices", role=Role.viewer, query=PageQuery, response=TagList
)
async def list_tags(request: web.Request, query: PageQuery) -> TagList:
    """Tags in use and how many devices carry each."""
    state = request.app[STATE]
    counts: dict[str, int] = {}
    for device in state.inventory.devices.values():
        for tag in device.tags:
            counts[tag] = counts.get(tag, 0) + 1
    items = [TagOut(name=name, devices=n) for name, n in sorted(counts.items())]
    page = items[query.offset : query.offset + query.limit]
    return TagList(items=page, total=len(items), limit=query.limit, offset=query.offset)
