"""create_app(): the aiohttp application that owns the store, forwarder and pollers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from genosd import __version__, audit
from genosd.api import (
    admin,
    changes_api,
    configs,
    devices,
    events_ws,
    facts_api,
    plugins_api,
    routes,
)
from genosd.api.access import authorize, error_middleware
from genosd.api.spec import Api
from genosd.api.state import STATE, DaemonMetrics, DaemonState
from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import SnmpPoll
from genosd.config.compliance import compliance_history
from genosd.metrics.forwarder import Forwarder, ForwarderMetrics
from genosd.metrics.influx import make_sink
from genosd.metrics.store import MetricsStore
from genosd.metrics.telegraf import health_point, poll_to_points
from genosd.pluginhost.runtime import PluginRuntime
from genosd.statedb import StateDB, state_db_path

log = logging.getLogger(__name__)
AUDIT_FEED_INTERVAL = 1.0  # seconds between looks for new audit entries while someone listens


async def _metrics_pipeline(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    settings = state.settings
    sink = make_sink(settings.influx)
    store = MetricsStore(
        settings.state_dir / "metrics.sqlite3",
        max_bytes=settings.store.max_bytes,
        retention_hours=settings.store.retention_hours,
        forwarding=sink is not None,
    )
    await store.open()
    state.store = store
    forward_task = None
    if sink is not None:
        state.forwarder = Forwarder(
            store,
            sink,
            batch_size=settings.influx.batch_size,
            flush_interval=settings.influx.flush_interval,
            retry_max_delay=settings.influx.retry_max_delay,
            metrics=ForwarderMetrics(state.registry),
        )
        forward_task = asyncio.create_task(state.forwarder.run(), name="forwarder")
    prune_task = asyncio.create_task(_prune_loop(store), name="store-prune")
    yield
    prune_task.cancel()
    if forward_task is not None and state.forwarder is not None:
        forward_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forward_task
        if not await state.forwarder.drain(timeout=5.0):
            log.warning("%d points stay in the spool for the next start", store.pending_points)
    if sink is not None:
        await sink.close()
    await store.close()


async def _prune_loop(store: MetricsStore) -> None:
    while True:
        await asyncio.sleep(300)
        await store.prune()


async def handle_poll(state: DaemonState, poll: SnmpPoll) -> None:
    """Turn one poll into points, commit them, and wake the forwarder."""
    assert state.store is not None and state.metrics is not None and state.scheduler is not None
    points = poll_to_points(poll, state.rates)
    health = state.scheduler.health.get(poll.device)
    hostname = str(poll.system.get("sysName") or poll.device)
    points.append(health_point(poll, hostname, health.last_success if health else None))
    await state.commit_points(points)
    _publish_poll(state, poll)
    state.metrics.polls.labels("ok" if poll.ok else "failed").inc()
    state.last_poll_progress = time.time()
    state.metrics.last_poll_progress.set(state.last_poll_progress)


def _publish_poll(state: DaemonState, poll: SnmpPoll) -> None:
    assert state.scheduler is not None
    state.events.publish(
        "poll.result",
        {
            "device": poll.device,
            "ok": poll.ok,
            "error": poll.error,
            "duration": poll.duration,
            "timed_out": poll.timed_out,
            "requests": poll.requests,
            "varbinds": poll.varbinds,
            "interfaces": len(poll.interfaces),
        },
    )
    health = state.scheduler.health.get(poll.device)
    status = health.status if health else "unknown"
    previous = state.published_status.get(poll.device, "unknown")
    if status != previous:
        state.published_status[poll.device] = status
        state.events.publish(
            "device.status",
            {"device": poll.device, "status": status, "previous": previous, "error": poll.error},
        )


async def follow_audit(state: DaemonState) -> None:
    """Publish new audit entries (from the API or the CLI) on the `audit` topic."""
    assert state.statedb is not None
    statedb = state.statedb
    cursor: int | None = None  # None while nobody listens: new listeners get new entries only
    while True:
        await asyncio.sleep(AUDIT_FEED_INTERVAL)
        if not state.events.has_subscribers("audit"):
            cursor = None
            continue
        if cursor is None:
            cursor = await statedb.run(audit.last_id)
            continue
        for entry in await statedb.run(audit.entries_after, cursor):
            cursor = entry.id
            state.events.publish("audit", entry.as_dict())


def _background(
    name: str, loop: Callable[[DaemonState], Coroutine[Any, Any, None]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs `loop(state)` as a task while the app runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(app[STATE]), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


async def _plugin_runtime(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.plugin_runtime = PluginRuntime(state.plugins, state.events)
    state.plugin_runtime.start()
    yield
    await state.plugin_runtime.stop()


async def _pollers(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.metrics = DaemonMetrics(state.registry)

    async def on_poll(poll: SnmpPoll) -> None:
        await handle_poll(state, poll)

    state.scheduler = PollScheduler(
        on_poll,
        concurrency=state.settings.poller.concurrency,
        backoff_max=state.settings.poller.backoff_max,
    )
    state.scheduler.update(state.inventory.select())
    yield
    await state.scheduler.stop()


async def _state_db(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    state.statedb = StateDB(state_db_path(state.settings.state_dir))
    await state.statedb.open()
    latest = await state.statedb.run(lambda db: compliance_history(db, latest_only=True))
    state.compliance_scores.update({r.device: r.score for r in latest})
    yield
    await state.statedb.close()
    state.statedb = None


def core_api() -> Api:
    """Every endpoint of the core, in one table."""
    api = Api("genosd", __version__)
    for module in (routes, devices, facts_api, configs, changes_api, admin, plugins_api):
        api.endpoints.extend(module.routes.endpoints)
    return api


def load_plugins(state: DaemonState) -> None:
    """Load plugins against this state; PluginError only when a required plugin fails."""
    state.plugins.load(state.settings.plugins, lambda name: plugins_api.make_context(state, name))


def create_app(state: DaemonState) -> web.Application:
    """Build the application; each backend starts before what uses it and stops after it."""
    app = web.Application(middlewares=[error_middleware], client_max_size=1024 * 1024)
    app[STATE] = state
    if not state.plugins.records:
        load_plugins(state)
    app.cleanup_ctx.append(_state_db)
    app.cleanup_ctx.append(_background("audit-feed", follow_audit))
    app.cleanup_ctx.append(_metrics_pipeline)
    app.cleanup_ctx.append(_plugin_runtime)
    app.cleanup_ctx.append(_pollers)
    app.cleanup_ctx.append(_background("config-backups", configs.backup_schedule))
    app.cleanup_ctx.append(_background("ssh-facts", facts_api.facts_schedule))
    api = core_api()
    api.install(app, authorize)
    api.endpoints.extend(plugins_api.mount(app, state, authorize))
    app[routes.SPEC] = api.openapi()
    app.router.add_get("/api/v1/openapi.json", routes.openapi)
    app.router.add_get("/metrics", routes.metrics)
    app.router.add_get("/api/v1/events", events_ws.events)
    app.on_shutdown.append(events_ws.close_all)
    return app
