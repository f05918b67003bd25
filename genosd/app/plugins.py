"""Plugins inside the application: what a plugin is lent, and its jobs, topics and sinks wired in.

A plugin sees devices, its data directory, its logger and a publish function limited to `alert`
and its own `<name>.*` topics, never the daemon's internals. Its jobs run in the core's job
runner, its sinks in the plugin runtime; `Plugins.apply()` reloads plugins whose settings changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from genosd.app.assistant import converse
from genosd.app.core import AppCore
from genosd.app.jobs import Cron, Every, Job, JobRunner
from genosd.app.tools import Caller, ToolRegistry
from genosd.auth.keys import Role
from genosd.errors import PluginError
from genosd.llm.prompts import ResolvedPrompt
from genosd.llm.turns import Limits, OnEvent, Turn
from genosd.llm.types import Message
from genosd.pluginhost.contract import (
    Act,
    DeviceView,
    Embedding,
    ModelAnswer,
    PluginContext,
    ToolInfo,
)
from genosd.pluginhost.contract import Job as PluginJob
from genosd.pluginhost.manager import PluginHost, PluginRecord, data_dir
from genosd.pluginhost.runtime import PluginRuntime

log = logging.getLogger(__name__)
ToolsOf = Callable[[], ToolRegistry]  # the registry as the plugins are now


def make_context(
    core: AppCore, name: str, tools_of: ToolsOf | None = None, act: Act | None = None
) -> PluginContext:
    """The context lent to plugin `name`: it may publish alerts and its own topics only; the
    tool registry and the assistant when `tools_of` gives the registry (in the daemon)."""

    def publish(topic: str, data: dict[str, Any]) -> None:
        if topic != "alert" and not topic.startswith(f"{name}."):
            raise PluginError(f"plugin {name} may publish 'alert' and '{name}.*', not {topic!r}")
        core.events.publish(topic, {**data, "source": name} if topic == "alert" else data)

    def devices() -> list[DeviceView]:
        return [
            DeviceView(d.name, d.hostname, d.platform, d.groups, d.tags, d.site, d.role)
            for d in core.inventory.devices.values()
        ]

    async def ask(
        kind: str,
        messages: list[dict[str, Any]],
        model: str | None = None,
        schema: dict[str, Any] | None = None,
        cache: bool = True,
    ) -> ModelAnswer:
        started = time.monotonic()
        result = await core.llm.chat(
            kind,  # type: ignore[arg-type]
            messages,
            schema=schema,
            model=model,
            cache=cache,
        )
        reply = result.reply
        return ModelAnswer(
            reply.content,
            result.provider,
            result.model,
            reply.tokens_in,
            reply.tokens_out,
            time.monotonic() - started,
            result.trimmed,
            result.cached,
        )

    async def embed(texts: list[str], model: str | None = None) -> Embedding:
        done = await core.llm.embed(texts, model)
        return Embedding(done.vectors, done.provider, done.model)

    async def prompt(name: str, variables: dict[str, Any]) -> ResolvedPrompt:
        return await core.prompts.resolve(name, variables)

    async def audit(
        actor: str, action: str, target: str, details: dict[str, Any] | None = None
    ) -> None:
        await core.audit(
            actor=actor, action=f"{name}.{action}", target=target, details=details or {}
        )

    def tools(role: Role, writes: bool = False) -> list[ToolInfo]:
        assert tools_of is not None  # only lent when given
        return [
            ToolInfo(t.name, t.description, t.role, t.writes, t.owner)
            for t in tools_of().available(role, writes=writes)
        ]

    async def assist(
        messages: list[Message],
        *,
        actor: str,
        role: Role,
        agent: str | None = None,
        tools: list[str] | None = None,
        pinned: dict[str, dict[str, Any]] | None = None,
        writes: bool = False,
        limits: Limits | None = None,
        model: str | None = None,
        on_event: OnEvent | None = None,
        kind: str = "chat",
        stream: bool = True,
    ) -> Turn:
        assert tools_of is not None
        return await converse(
            core.llm,
            tools_of(),
            messages,
            Caller(actor, role, agent),
            allowed=tools,
            pinned=pinned,
            writes=writes,
            limits=limits,
            kind=kind,  # type: ignore[arg-type]
            model=model,
            on_event=on_event,
            stream=stream,
        )

    context = PluginContext(
        name=name,
        data_dir=data_dir(core.settings.state_dir, name),
        log=logging.getLogger(f"genosd.plugin.{name}"),
        publish=publish,
        devices=devices,
        ask=ask,
        audit=audit,
        embed=embed,
        prompt=prompt,
        redact=core.llm.redact,
        config_changes=core.history.changes_since,
    )
    if tools_of is not None:
        context.tools, context.assist = tools, assist
    if act is not None:
        context.act = act
    return context


def load_plugins(
    core: AppCore, tools_of: ToolsOf | None = None, act: Act | None = None
) -> PluginHost:
    """Discover and load plugins for this core (lent the tool registry `tools_of` gives, in
    the daemon); PluginError only when a required one fails."""
    host = PluginHost()
    host.load(core.settings.plugins, lambda name: make_context(core, name, tools_of, act))
    core.prompts.source = host.prompt_source()
    return host


def _job(plugin: str, job: PluginJob) -> Job:
    every, cron = job.every, job.cron
    schedule: Every | Cron = Every(every, job.at_start) if every is not None else Cron(cron or "")
    return Job(f"{plugin}.{job.name}", plugin, job.run, lambda: schedule, quiet=job.quiet)


class Plugins:
    """The loaded plugins and their running parts."""

    def __init__(
        self, core: AppCore, host: PluginHost, jobs: JobRunner, tools_of: ToolsOf | None = None
    ):
        self.core = core
        self.tools_of = tools_of
        self.host = host
        self.jobs = jobs
        self.runtime = PluginRuntime(host, core.events)
        self.routes_mounted: set[str] = set()  # plugins whose routes the HTTP app serves

    def start(self) -> None:
        """Register every active plugin's topics and jobs, start its sinks."""
        for record in self.host.active:
            self._wire(record)
        self.runtime.start()

    def _wire(self, record: PluginRecord) -> None:
        for topic in record.contributions.topics:
            if topic.name not in self.core.events.topics:
                self.core.events.add_topic(topic)
        for job in record.contributions.jobs:
            self.jobs.add(_job(record.name, job))

    async def stop(self) -> None:
        """Stop every plugin's sinks (the job runner stops their jobs)."""
        await self.runtime.stop()

    async def apply(self, sections: dict[str, dict[str, Any]]) -> list[str]:
        """Reload the plugins whose settings section changed; their names."""
        changed = sorted(
            n
            for n in set(self.host.sections) | set(sections)
            if (self.host.sections.get(n) or {}) != (sections.get(n) or {})
        )
        for name in changed:
            await self.runtime.stop_plugin(name)
            await self.jobs.remove_owner(name)
        before = {name: record.state for name, record in self.host.records.items()}
        self.host.reload(sections, lambda name: make_context(self.core, name, self.tools_of))
        self.core.prompts.source = self.host.prompt_source()
        for name in changed:
            record = self.host.records.get(name)
            state = record.state if record else "absent"
            log.info("plugin %s: %s -> %s", name, before.get(name, "absent"), state)
            if record is not None and record.state in ("active", "degraded"):
                self._wire(record)
                self.runtime.start_plugin(record)
        return changed

    def routes_pending(self) -> list[str]:
        """Active plugins whose HTTP routes only a restart mounts."""
        return [
            f"plugins.{record.name} (its HTTP routes)"
            for record in self.host.active
            if record.contributions.routes is not None
            and record.contributions.routes.endpoints
            and record.name not in self.routes_mounted
        ]
