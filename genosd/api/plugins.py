"""Plugins over HTTP: their routes mounted as sub-apps, and GET /api/v1/plugins."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from aiohttp import web

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import PluginList, PluginOut, PluginQuery, SinkOut, ToolOut
from genosd.api.system import jobs_out
from genosd.app.runtime import Runtime
from genosd.auth.keys import Role
from genosd.endpoints import Api, Authorizer, Endpoint, Handler
from genosd.errors import NotFoundError
from genosd.pluginhost.manager import PluginRecord

routes = Api("genosd", __version__)
PLUGIN_PREFIX = "/api/v1/plugins"
# built-in plugins whose routes DESIGN.md fixes elsewhere (the chat platforms call them)
ROOTS = {"chatops": "/chatops"}


def _while_active(runtime: Runtime, name: str, handler: Handler) -> Handler:
    """The handler, answering 404 once a reload disabled or removed its plugin."""

    @functools.wraps(handler)
    async def handle(request: web.Request, **kwargs: Any) -> Any:
        record = runtime.plugins.host.records.get(name)
        if record is None or record.state not in ("active", "degraded"):
            raise NotFoundError(f"plugin {name} is not active")
        return await handler(request, **kwargs)

    return handle


def mount(app: web.Application, runtime: Runtime, authorize: Authorizer) -> list[Endpoint]:
    """Mount each active plugin's routes as a sub-app; the endpoints for the spec."""
    endpoints: list[Endpoint] = []
    for record in runtime.plugins.host.active:
        api = record.contributions.routes
        if api is None or not api.endpoints:
            continue
        guarded = Api(api.title, api.version)
        guarded.endpoints = [
            dataclasses.replace(e, handler=_while_active(runtime, record.name, e.handler))
            for e in api.endpoints
        ]
        sub = web.Application()
        guarded.install(sub, authorize)
        prefix = ROOTS.get(record.name, f"{PLUGIN_PREFIX}/{record.name}")
        app.add_subapp(prefix, sub)
        runtime.plugins.routes_mounted.add(record.name)
        endpoints.extend(
            dataclasses.replace(
                e, path=prefix + e.path, tag=f"plugin:{record.name}", namespace=record.name
            )
            for e in api.endpoints
        )
    return endpoints


def _out(runtime: Runtime, record: PluginRecord) -> PluginOut:
    contributions = record.contributions
    sinks = [s for s in runtime.plugins.runtime.sinks if s.plugin == record.name]
    api = contributions.routes
    return PluginOut(
        name=record.name,
        version=record.version,
        source=record.source,
        state=record.state,
        required=record.required,
        error=record.error,
        hooks=record.hooks,
        routes=[
            f"{e.method} {ROOTS.get(record.name, f'{PLUGIN_PREFIX}/{record.name}')}{e.path}"
            for e in (api.endpoints if api else [])
        ],
        topics=[t.name for t in contributions.topics],
        tools=[
            ToolOut(
                name=t.name,
                description=t.description,
                role=t.role.value,
                args_schema=t.args.model_json_schema(),
            )
            for t in contributions.tools
        ],
        tasks=[t.name for t in contributions.tasks],
        jobs=jobs_out(runtime, owner=record.name),
        sinks=[
            SinkOut(
                name=s.sink.name,
                topics=list(s.sink.topics),
                points=s.sink.on_points is not None,
                delivered=s.delivered,
                errors=s.errors,
                dropped=s.dropped,
                stopped=s.stopped,
                last_error=s.last_error,
            )
            for s in sinks
        ],
    )


@routes.route(
    "GET", PLUGIN_PREFIX, tag="plugins", role=Role.viewer, query=PluginQuery, response=PluginList
)
async def list_plugins(request: web.Request, query: PluginQuery) -> PluginList:
    """Installed and configured plugins: state, error, and what each contributes."""
    runtime = runtime_of(request)
    records = [
        r
        for r in runtime.plugins.host.records.values()
        if (query.name is None or r.name == query.name)
        and (query.state is None or r.state == query.state)
    ]
    items = [_out(runtime, r) for r in sorted(records, key=lambda r: r.name)]
    page = items[query.offset : query.offset + query.limit]
    return PluginList(items=page, total=len(items), limit=query.limit, offset=query.offset)
