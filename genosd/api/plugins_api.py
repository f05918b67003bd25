"""Plugins in the application: their contexts, their mounted routes, and GET /api/v1/plugins."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aiohttp import web

from genosd import __version__
from genosd.api.models import JobOut, PluginList, PluginOut, PluginQuery, SinkOut, ToolOut
from genosd.api.spec import Api, Authorizer, Endpoint
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.errors import PluginError
from genosd.pluginhost.contract import DeviceView, PluginContext
from genosd.pluginhost.manager import PluginRecord, data_dir

routes = Api("genosd", __version__)
PLUGIN_PREFIX = "/api/v1/plugins"


def make_context(state: DaemonState, name: str) -> PluginContext:
    """The context lent to plugin `name`: it may publish alerts and its own topics only."""

    def publish(topic: str, data: dict[str, Any]) -> None:
        if topic != "alert" and not topic.startswith(f"{name}."):
            raise PluginError(f"plugin {name} may publish 'alert' and '{name}.*', not {topic!r}")
        state.events.publish(topic, {**data, "source": name} if topic == "alert" else data)

    def devices() -> list[DeviceView]:
        return [
            DeviceView(d.name, d.hostname, d.platform, d.groups, d.tags, d.site, d.role)
            for d in state.inventory.devices.values()
        ]

    return PluginContext(
        name=name,
        data_dir=data_dir(state.settings.state_dir, name),
        log=logging.getLogger(f"genosd.plugin.{name}"),
        publish=publish,
        devices=devices,
    )


def mount(app: web.Application, state: DaemonState, authorize: Authorizer) -> list[Endpoint]:
    """Register plugin topics and mount each plugin's routes as a sub-app; the spec's endpoints."""
    endpoints: list[Endpoint] = []
    for record in state.plugins.active:
        for topic in record.contributions.topics:
            state.events.add_topic(topic)
        api = record.contributions.routes
        if api is None or not api.endpoints:
            continue
        sub = web.Application()
        api.install(sub, authorize)
        prefix = f"{PLUGIN_PREFIX}/{record.name}"
        app.add_subapp(prefix, sub)
        endpoints.extend(
            dataclasses.replace(
                e, path=prefix + e.path, tag=f"plugin:{record.name}", namespace=record.name
            )
            for e in api.endpoints
        )
    return endpoints


def _out(state: DaemonState, record: PluginRecord) -> PluginOut:
    runtime = state.plugin_runtime
    contributions = record.contributions
    jobs = [s for s in (runtime.jobs if runtime else []) if s.plugin == record.name]
    sinks = [s for s in (runtime.sinks if runtime else []) if s.plugin == record.name]
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
            f"{e.method} {PLUGIN_PREFIX}/{record.name}{e.path}"
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
        jobs=[
            JobOut(
                name=s.job.name,
                schedule=s.job.cron or f"every {s.job.every:g}s",
                runs=s.runs,
                failures=s.failures,
                last_run=s.last_run,
                last_duration=s.last_duration,
                last_error=s.last_error,
                next_run=s.next_run,
            )
            for s in jobs
        ],
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
    state = request.app[STATE]
    records = [
        r
        for r in state.plugins.records.values()
        if (query.name is None or r.name == query.name)
        and (query.state is None or r.state == query.state)
    ]
    items = [_out(state, r) for r in sorted(records, key=lambda r: r.name)]
    page = items[query.offset : query.offset + query.limit]
    return PluginList(items=page, total=len(items), limit=query.limit, offset=query.offset)
