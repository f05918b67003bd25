"""Core routes: health, the OpenAPI spec, Prometheus /metrics, and the system resource."""

from __future__ import annotations

import platform
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genosd import __version__
from genosd.api.models import (
    BackendHealth,
    HealthOut,
    SettingsOut,
    SinkHealth,
    SpoolHealth,
    SystemOut,
)
from genosd.api.spec import Api
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.settings_io import render_export

routes = Api("genosd", __version__)


@routes.route("GET", "/api/v1/health", tag="system", role=None, response=HealthOut)
async def health(request: web.Request) -> HealthOut:
    """Liveness and the state of the metrics sink and spool (no key needed)."""
    state = request.app[STATE]
    forwarder, store = state.forwarder, state.store
    return HealthOut(
        status="ok",
        version=__version__,
        devices=len(state.inventory.devices),
        metrics_sink=None
        if forwarder is None
        else SinkHealth(
            name=forwarder.sink.name, healthy=forwarder.healthy, last_error=forwarder.last_error
        ),
        spool=None
        if store is None
        else SpoolHealth(pending_points=store.pending_points, pending_bytes=store.pending_bytes),
    )


def _backends(state: DaemonState) -> list[BackendHealth]:
    backends = [
        BackendHealth(
            name="metrics-store",
            kind="sqlite",
            healthy=state.store is not None,
            detail=None if state.store is None else str(state.store.path),
        ),
        BackendHealth(
            name="state-db",
            kind="sqlite",
            healthy=state.statedb is not None and state.statedb.connection is not None,
            detail=None if state.statedb is None else str(state.statedb.path),
        ),
    ]
    if state.forwarder is not None:
        backends.append(
            BackendHealth(
                name=state.forwarder.sink.name,
                kind="metrics-sink",
                healthy=state.forwarder.healthy,
                detail=state.forwarder.last_error,
            )
        )
    if state.scheduler is not None:
        down = sum(1 for h in state.scheduler.health.values() if h.status == "down")
        backends.append(
            BackendHealth(
                name="snmp-poller",
                kind="collector",
                healthy=time.time() - state.last_poll_progress < 600 or not state.scheduler.health,
                detail=f"{len(state.scheduler.health)} devices, {down} down",
            )
        )
    return backends


@routes.route("GET", "/api/v1/system", tag="system", role=Role.viewer, response=SystemOut)
async def get_system(request: web.Request) -> SystemOut:
    """Version, uptime, paths and the health of each backend."""
    state = request.app[STATE]
    return SystemOut(
        version=__version__,
        python=platform.python_version(),
        started_at=state.started_at,
        uptime_seconds=time.time() - state.started_at,
        config_file=str(state.config_file) if state.config_file else None,
        inventory_dir=str(state.inventory_dir),
        state_dir=str(state.settings.state_dir),
        backends=_backends(state),
    )


@routes.route("GET", "/api/v1/system/settings", tag="system", role=Role.admin, response=SettingsOut)
async def get_settings(request: web.Request) -> SettingsOut:
    """The effective settings with every secret hidden."""
    return SettingsOut(settings=request.app[STATE].settings.public_summary())


@routes.route(
    "GET",
    "/api/v1/system/settings/export",
    tag="system",
    role=Role.admin,
    media_types=("application/yaml",),
)
async def export_settings(request: web.Request) -> web.Response:
    """The settings backup `genosd settings export` writes: non-default values, no secrets."""
    text = render_export(request.app[STATE].settings)
    return web.Response(text=text, content_type="application/yaml")


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document, generated from the declared endpoints."""
    return web.json_response(request.app[SPEC])


async def metrics(request: web.Request) -> web.Response:
    """The daemon's own metrics in Prometheus text format."""
    state = request.app[STATE]
    if state.scheduler is not None and state.metrics is not None:
        counts: dict[str, int] = {"up": 0, "down": 0, "unknown": 0}
        for health_record in state.scheduler.health.values():
            counts[health_record.status] += 1
        for status, count in counts.items():
            state.metrics.devices.labels(status).set(count)
    if state.forwarder is not None:
        state.forwarder.export_spool_state()
    body = generate_latest(state.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


SPEC = web.AppKey("openapi", dict)
