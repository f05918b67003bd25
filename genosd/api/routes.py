"""HTTP routes of the daemon core: health, Prometheus metrics, devices and their latest metrics."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genosd import __version__
from genosd.api.state import STATE
from genosd.inventory import Device


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    """The one error body shape: {"error": {"code", "message", "details"}}."""
    return web.json_response(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


async def health(request: web.Request) -> web.Response:
    """Liveness plus the state of each backend."""
    state = request.app[STATE]
    forwarder = state.forwarder
    store = state.store
    body = {
        "status": "ok",
        "version": __version__,
        "devices": len(state.inventory.devices),
        "metrics_sink": None
        if forwarder is None
        else {
            "name": forwarder.sink.name,
            "healthy": forwarder.healthy,
            "last_error": forwarder.last_error,
        },
        "spool": None
        if store is None
        else {"pending_points": store.pending_points, "pending_bytes": store.pending_bytes},
    }
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    """The daemon's own metrics in Prometheus text format."""
    state = request.app[STATE]
    if state.scheduler is not None and state.metrics is not None:
        counts: dict[str, int] = {"up": 0, "down": 0, "unknown": 0}
        for health_record in state.scheduler.health.values():
            counts[health_record.status] += 1
        for status, count in counts.items():
            state.metrics.devices.labels(status).set(count)
    if state.store is not None and state.forwarder is not None:
        state.forwarder.metrics.spool_points.set(state.store.pending_points)
        state.forwarder.metrics.spool_bytes.set(state.store.pending_bytes)
    body = generate_latest(state.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _device_json(device: Device, request: web.Request) -> dict[str, Any]:
    state = request.app[STATE]
    health_record = state.scheduler.health.get(device.name) if state.scheduler else None
    return {
        "name": device.name,
        "hostname": device.hostname,
        "platform": device.platform,
        "groups": list(device.groups),
        "tags": list(device.tags),
        "site": device.site,
        "role": device.role,
        "snmp": None
        if device.snmp is None
        else {
            "version": device.snmp.version,
            "port": device.snmp.port,
            "interval": device.snmp.interval,
        },
        "status": health_record.status if health_record else "unknown",
        "last_poll": health_record.last_poll if health_record else None,
        "last_success": health_record.last_success if health_record else None,
        "last_error": health_record.last_error if health_record else None,
    }


async def list_devices(request: web.Request) -> web.Response:
    """Devices, filtered by ?group= ?tag= ?platform= ?site= ?role=, paginated by ?limit= ?offset=."""
    state = request.app[STATE]
    filters = {
        k: v
        for k, v in request.query.items()
        if k in ("name", "group", "tag", "platform", "site", "role")
    }
    try:
        limit = int(request.query.get("limit", "100"))
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        return error_response(400, "invalid_request", "limit and offset must be integers")
    if not 1 <= limit <= 1000 or offset < 0:
        return error_response(400, "invalid_request", "limit must be 1-1000 and offset >= 0")
    devices = state.inventory.select(filters)
    page = devices[offset : offset + limit]
    return web.json_response(
        {
            "items": [_device_json(d, request) for d in page],
            "total": len(devices),
            "limit": limit,
            "offset": offset,
        }
    )


async def get_device(request: web.Request) -> web.Response:
    """One device."""
    state = request.app[STATE]
    device = state.inventory.devices.get(request.match_info["name"])
    if device is None:
        return error_response(404, "not_found", f"no device {request.match_info['name']!r}")
    return web.json_response(_device_json(device, request))


async def device_metrics(request: web.Request) -> web.Response:
    """The newest value of every series of one device, from the local store."""
    state = request.app[STATE]
    name = request.match_info["name"]
    if name not in state.inventory.devices:
        return error_response(404, "not_found", f"no device {name!r}")
    assert state.store is not None
    series = await state.store.latest(name)
    measurement = request.query.get("measurement")
    if measurement:
        series = [s for s in series if s["measurement"] == measurement]
    return web.json_response({"device": name, "series": series})


def setup(app: web.Application) -> None:
    """Register the core routes."""
    app.router.add_get("/api/v1/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/devices", list_devices)
    app.router.add_get("/api/v1/devices/{name}", get_device)
    app.router.add_get("/api/v1/devices/{name}/metrics", device_metrics)
