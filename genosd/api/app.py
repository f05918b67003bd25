"""create_app(): the HTTP adapter over a runtime — routes, auth, the event stream, plugin routes.

The application owns no service of its own: it starts the runtime in its cleanup context (before
the first request) and stops it after the last, and each route module calls the runtime's
workflows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from genosd import __version__
from genosd.api import (
    audit,
    changes,
    cluster,
    commands,
    configs,
    devices,
    discovery,
    events,
    incidents,
    keys,
    llm,
    playbooks,
    plugins,
    reports,
    syslog,
    system,
    tools,
    topology,
    traps,
    troubleshoot,
    waivers,
)
from genosd.api.access import authorize
from genosd.api.console import install_console
from genosd.api.context import RUNTIME, SPEC, WEBSOCKETS
from genosd.api.edge import EDGE, Edge, client_limit
from genosd.api.failures import error_middleware
from genosd.api.mcp import McpHttp
from genosd.app.jobs import Every, Job
from genosd.app.runtime import Runtime
from genosd.endpoints import Api

MAX_BODY = 1024 * 1024
REFUSALS_EVERY = 60.0  # seconds: one audit row per client and action per window


def core_api() -> Api:
    """Every endpoint of the core, in one table."""
    api = Api("genosd", __version__)
    modules = (
        system,
        cluster,
        devices,
        topology,
        troubleshoot,
        discovery,
        reports,
        configs,
        changes,
        waivers,
        traps,
        syslog,
        commands,
        incidents,
        playbooks,
        llm,
        tools,
        keys,
        audit,
        plugins,
    )
    for module in modules:
        api.endpoints.extend(module.routes.endpoints)
    return api


async def _run(app: web.Application) -> AsyncIterator[None]:
    runtime, edge = app[RUNTIME], app[EDGE]
    await runtime.start()
    yield
    await edge.refusals.flush(runtime.core.db)  # the last minute's refusals, before the db closes
    await runtime.stop()


def create_app(runtime: Runtime) -> web.Application:
    """The HTTP application serving `runtime` (started and stopped with the app)."""
    app = web.Application(middlewares=[error_middleware, client_limit], client_max_size=MAX_BODY)
    app[RUNTIME] = runtime
    app[WEBSOCKETS] = set()
    edge = app[EDGE] = Edge(runtime.core.settings.api, runtime.registry)
    runtime.reload_listeners.append(lambda settings: edge.configure(settings.api))
    runtime.jobs.add(
        Job(
            "audit_refusals",
            "genosd",
            lambda: edge.refusals.flush(runtime.core.db),
            lambda: Every(REFUSALS_EVERY),
            quiet=True,
        )
    )
    app.cleanup_ctx.append(_run)
    settings = runtime.core.settings.api
    if settings.mcp:
        McpHttp(lambda: runtime.tools, writes=settings.mcp_writes).install(app)
    api = core_api()
    api.install(app, authorize)
    api.endpoints.extend(plugins.mount(app, runtime, authorize))
    app[SPEC] = api.openapi()
    app.router.add_get("/api/v1/openapi.json", system.openapi)
    app.router.add_get("/metrics", system.metrics)
    app.router.add_get("/api/v1/events", events.events)
    install_console(app)
    app.on_shutdown.append(events.close_all)
    return app
