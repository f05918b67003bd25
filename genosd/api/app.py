"""create_app(): the aiohttp application that owns the store, forwarder and pollers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from genosd import __version__
from genosd.api import admin, devices, routes
from genosd.api.access import authorize, error_middleware
from genosd.api.spec import Api
from genosd.api.state import STATE, DaemonMetrics, DaemonState
from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import SnmpPoll
from genosd.metrics.forwarder import Forwarder, ForwarderMetrics
from genosd.metrics.influx import make_sink
from genosd.metrics.store import MetricsStore
from genosd.metrics.telegraf import health_point, poll_to_points
from genosd.statedb import StateDB, state_db_path

log = logging.getLogger(__name__)


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
    await state.store.append(points)
    state.metrics.polls.labels("ok" if poll.ok else "failed").inc()
    state.metrics.points.inc(len(points))
    state.last_poll_progress = time.time()
    state.metrics.last_poll_progress.set(state.last_poll_progress)
    if state.forwarder is not None:
        state.forwarder.notify()


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
    yield
    await state.statedb.close()
    state.statedb = None


def core_api() -> Api:
    """Every endpoint of the core, in one table."""
    api = Api("genosd", __version__)
    for module in (routes, devices, admin):
        api.endpoints.extend(module.routes.endpoints)
    return api


def create_app(state: DaemonState) -> web.Application:
    """Build the application; the metrics pipeline starts before the pollers and stops after them."""
    app = web.Application(middlewares=[error_middleware], client_max_size=1024 * 1024)
    app[STATE] = state
    app.cleanup_ctx.append(_state_db)
    app.cleanup_ctx.append(_metrics_pipeline)
    app.cleanup_ctx.append(_pollers)
    api = core_api()
    api.install(app, authorize)
    app[routes.SPEC] = api.openapi()
    app.router.add_get("/api/v1/openapi.json", routes.openapi)
    app.router.add_get("/metrics", routes.metrics)
    return app
