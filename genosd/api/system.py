"""The system resource: health, version, backends, jobs, settings in effect, reload, /metrics."""

from __future__ import annotations

import platform
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genosd import __version__
from genosd.api.context import SPEC, actor_of, runtime_of
from genosd.api.models import (
    BackendHealth,
    HealthOut,
    JobOut,
    ReloadOut,
    SettingsOut,
    SinkHealth,
    SpoolHealth,
    SystemOut,
)
from genosd.app import reload as reloading
from genosd.app.runtime import Runtime
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.llm import KINDS, ProviderError
from genosd.settings_io import render_export

routes = Api("genosd", __version__)


@routes.route("GET", "/api/v1/health", tag="system", role=None, response=HealthOut)
async def health(request: web.Request) -> HealthOut:
    """Liveness and the state of the metrics sink and spool (no key needed)."""
    runtime = runtime_of(request)
    sink, store = runtime.pipeline.sink, runtime.pipeline.store
    return HealthOut(
        status="ok",
        version=__version__,
        devices=len(runtime.core.inventory.devices),
        metrics_sink=None
        if sink is None
        else SinkHealth(
            name=sink.name, healthy=sink.healthy, last_error=sink.last_error, reason=sink.reason
        ),
        spool=SpoolHealth(pending_points=store.pending_points, pending_bytes=store.pending_bytes),
    )


def _backends(runtime: Runtime) -> list[BackendHealth]:
    core = runtime.core
    backends = [
        BackendHealth(
            name="metrics-store",
            kind="sqlite",
            healthy=True,
            detail=str(runtime.pipeline.store.path),
        ),
        BackendHealth(
            name="state-db",
            kind="sqlite",
            healthy=core.db.connection is not None,
            detail=str(core.db.path),
        ),
    ]
    sink = runtime.pipeline.sink
    if sink is not None:
        backends.append(
            BackendHealth(
                name=sink.name, kind="metrics-sink", healthy=sink.healthy, detail=sink.last_error
            )
        )
    health = runtime.poller.scheduler.health
    down = sum(1 for h in health.values() if h.status == "down")
    backends.append(
        BackendHealth(
            name="snmp-poller",
            kind="collector",
            healthy=time.time() - runtime.poller.last_progress < 600 or not health,
            detail=f"{len(health)} devices, {down} down",
        )
    )
    traps = runtime.traps
    if traps.listening or traps.error:
        where = f"udp {traps.listening[0]}:{traps.listening[1]}" if traps.listening else ""
        backends.append(
            BackendHealth(
                name="trap-receiver",
                kind="collector",
                healthy=traps.error is None,
                detail=traps.error or where,
            )
        )
    syslog = runtime.syslog
    if syslog.listening or syslog.errors:
        where = ", ".join(f"{t} {h}:{p}" for t, (h, p) in syslog.listening.items())
        backends.append(
            BackendHealth(
                name="syslog-receiver",
                kind="collector",
                healthy=syslog.error is None,
                detail="; ".join(filter(None, [syslog.error, where])),
            )
        )
    return backends


async def _llm_backends(runtime: Runtime) -> list[BackendHealth]:
    """Each model server: reachable, and which of the configured models it has."""
    layer = runtime.core.llm
    found = []
    wanted = {m for kind in KINDS for _, m in layer.settings.route(kind)}
    for name in layer.providers:
        try:
            models = await layer.server_models(name)
        except ProviderError as exc:
            found.append(
                BackendHealth(name=f"llm:{name}", kind="llm", healthy=False, detail=str(exc))
            )
            continue
        present = sorted(m for m in wanted if m in models or f"{m}:latest" in models)
        missing = sorted(wanted - set(present))
        detail = f"{len(models)} models; configured here: {', '.join(present) or 'none'}"
        if missing:
            detail += f"; not here: {', '.join(missing)}"
        found.append(BackendHealth(name=f"llm:{name}", kind="llm", healthy=True, detail=detail))
    return found


def jobs_out(runtime: Runtime, owner: str | None = None) -> list[JobOut]:
    """The scheduled jobs (of one owner), by name."""
    return [
        JobOut(
            name=s.name,
            owner=s.owner,
            schedule=s.schedule,
            running=s.running,
            runs=s.runs,
            failures=s.failures,
            last_run=s.last_run,
            last_duration=s.last_duration,
            last_error=s.last_error,
            last_ok=s.last_ok,
            next_run=s.next_run,
        )
        for s in sorted(runtime.jobs.status.values(), key=lambda s: s.name)
        if owner is None or s.owner == owner
    ]


@routes.route("GET", "/api/v1/system", tag="system", role=Role.viewer, response=SystemOut)
async def get_system(request: web.Request) -> SystemOut:
    """Version, uptime, paths, the health of each backend and every scheduled job."""
    runtime = runtime_of(request)
    snapshot = runtime.core.snapshot
    return SystemOut(
        version=__version__,
        python=platform.python_version(),
        started_at=runtime.started_at,
        uptime_seconds=time.time() - runtime.started_at,
        config_file=str(snapshot.sources.config_file) if snapshot.sources.config_file else None,
        inventory_dir=str(snapshot.inventory_dir),
        state_dir=str(snapshot.settings.state_dir),
        settings_loaded_at=snapshot.loaded_at,
        restart_required=runtime.restart_required,
        backends=_backends(runtime) + await _llm_backends(runtime),
        jobs=jobs_out(runtime),
    )


@routes.route("GET", "/api/v1/system/settings", tag="system", role=Role.admin, response=SettingsOut)
async def get_settings(request: web.Request) -> SettingsOut:
    """The settings in effect (secrets hidden), and those waiting for a restart."""
    runtime = runtime_of(request)
    snapshot = runtime.core.snapshot
    return SettingsOut(
        settings=snapshot.settings.public_summary(),
        loaded_at=snapshot.loaded_at,
        restart_required=runtime.restart_required,
    )


@routes.route(
    "POST",
    "/api/v1/system/reload",
    tag="system",
    role=Role.admin,
    response=ReloadOut,
    conflicts=True,
    config_errors=True,
)
async def reload_settings(request: web.Request) -> ReloadOut:
    """Read settings and inventory again and apply them (422 and nothing changed if invalid)."""
    report = await reloading.reload(runtime_of(request), actor_of(request))
    return ReloadOut(**report.__dict__)


@routes.route(
    "GET",
    "/api/v1/system/settings/export",
    tag="system",
    role=Role.admin,
    media_types=("application/yaml",),
)
async def export_settings(request: web.Request) -> web.Response:
    """The settings backup `genosd settings export` writes: non-default values, no secrets."""
    text = render_export(runtime_of(request).core.settings)
    return web.Response(text=text, content_type="application/yaml")


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document, generated from the declared endpoints."""
    return web.json_response(request.app[SPEC])


async def metrics(request: web.Request) -> web.Response:
    """The daemon's own metrics in Prometheus text format."""
    runtime = runtime_of(request)
    counts = runtime.core.status.counts(runtime.core.inventory.select())
    for status, count in counts.items():
        runtime.metrics.devices.labels(status).set(count)
    runtime.pipeline.export_state()
    body = generate_latest(runtime.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
