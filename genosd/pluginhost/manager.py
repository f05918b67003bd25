"""Finding, configuring and loading plugins; a broken plugin is recorded and left out, not fatal.

Plugins come from the entry-point group `genosd.plugins` (the entry-point name is the plugin name).
For each one, in order: the settings section decides whether it is enabled; the module is imported;
pluggy registers it (unknown hooks and wrong hook arguments are refused); its settings section is
validated by its own model; its hooks are called once and what they return is checked. Any failure
marks that plugin `failed` with the reason and drops everything it contributed. Only a plugin marked
`required: true` stops start-up (PluginError).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pluggy
from croniter import croniter
from pydantic import BaseModel, ValidationError

from genosd.endpoints import Api
from genosd.errors import PluginError
from genosd.events import Topic
from genosd.llm.prompts import PromptSource
from genosd.pluginhost.contract import (
    NAME,
    Contributions,
    GenosdHookSpecs,
    Job,
    Notifier,
    PluginContext,
    Sink,
    Task,
    Tool,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "genosd.plugins"
HOST_KEYS = ("enabled", "required")  # keys of a plugins.<name> section that the host itself reads

PluginState = Literal["active", "degraded", "failed", "disabled", "missing"]
ContextFactory = Callable[[str], PluginContext]


@dataclass
class PluginRecord:
    """One plugin as the host sees it (also what /api/v1/plugins reports)."""

    name: str
    version: str | None
    source: str
    state: PluginState
    required: bool = False
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    config: BaseModel | None = None
    contributions: Contributions = field(default_factory=Contributions)
    module: Any = None

    def fail(self, error: str) -> None:
        """Mark the plugin failed and forget what it contributed."""
        self.state, self.error = "failed", error
        self.contributions = Contributions()


def discover() -> list[importlib.metadata.EntryPoint]:
    """Installed plugins, sorted by name."""
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _version(ep: importlib.metadata.EntryPoint) -> str | None:
    return ep.dist.version if ep.dist is not None else None


def _section_flags(name: str, section: dict[str, Any]) -> tuple[bool, bool, dict[str, Any]]:
    """(enabled, required, the plugin's own keys) of a settings section."""
    flags = {k: section.get(k) for k in HOST_KEYS}
    for key, value in flags.items():
        if value is not None and not isinstance(value, bool):
            raise PluginError(f"plugins.{name}.{key}: must be true or false, not {value!r}")
    own = {k: v for k, v in section.items() if k not in HOST_KEYS}
    return flags["enabled"] is not False, flags["required"] is True, own


class PluginHost:
    """Loads plugins once at start-up; holds their records and contributions."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("genosd")
        self.pm.add_hookspecs(GenosdHookSpecs)
        self.records: dict[str, PluginRecord] = {}
        self.entry_points: dict[str, importlib.metadata.EntryPoint] = {}
        self.sections: dict[str, dict[str, Any]] = {}

    @property
    def active(self) -> list[PluginRecord]:
        """Plugins that loaded (including degraded ones), by name."""
        return [r for r in self.records.values() if r.state in ("active", "degraded")]

    def load(
        self,
        sections: dict[str, dict[str, Any]],
        make_context: ContextFactory,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    ) -> None:
        """Load every discovered plugin; raises PluginError only for required plugins."""
        found = list(discover() if entry_points is None else entry_points)
        self.entry_points = {ep.name: ep for ep in found}
        self.sections = {name: dict(section or {}) for name, section in sections.items()}
        for name in sorted(set(self.entry_points) | set(sections)):
            self._load_named(name, make_context)
        self._check_unique_tools()
        broken = [r for r in self.records.values() if r.required and r.state != "active"]
        if broken:
            raise PluginError(
                "required plugins failed to load:\n"
                + "\n".join(f"  - {r.name}: {r.error}" for r in broken)
            )
        for record in self.records.values():
            if record.state == "failed":
                log.error("plugin %s disabled: %s", record.name, record.error)

    def reload(
        self, sections: dict[str, dict[str, Any]], make_context: ContextFactory
    ) -> list[str]:
        """Reload the plugins whose settings section changed; their names (never raises)."""
        new = {name: dict(section or {}) for name, section in sections.items()}
        changed = sorted(
            name
            for name in set(self.sections) | set(new)
            if self.sections.get(name, {}) != new.get(name, {})
        )
        self.sections = new
        for name in changed:
            self._unregister(name)
            self.records.pop(name, None)
            self._load_named(name, make_context)
            record = self.records.get(name)
            if record is not None and record.state == "failed":
                log.error("plugin %s disabled: %s", name, record.error)
        self._check_unique_tools()
        return changed

    def _load_named(self, name: str, make_context: ContextFactory) -> None:
        section = self.sections.get(name)
        ep = self.entry_points.get(name)
        if ep is not None:
            self.records[name] = self._load_one(ep, section or {}, make_context)
        elif section is not None:
            required = section.get("required") is True
            self.records[name] = PluginRecord(
                name,
                None,
                "settings",
                "missing",
                required,
                error=f"plugins.{name} is configured but no installed plugin has that name",
            )

    def _load_one(
        self,
        ep: importlib.metadata.EntryPoint,
        section: dict[str, Any],
        make_context: ContextFactory,
    ) -> PluginRecord:
        record = PluginRecord(ep.name, _version(ep), ep.value, "active")
        try:
            enabled, record.required, own = _section_flags(ep.name, section)
        except PluginError as exc:
            record.fail(str(exc))
            return record
        if not NAME.match(ep.name):
            record.fail(f"plugin name {ep.name!r} must match {NAME.pattern}")
            return record
        if not enabled:
            record.state = "disabled"
            return record
        try:
            record.module = ep.load()
        except Exception as exc:
            record.fail(f"import failed: {type(exc).__name__}: {exc}")
            return record
        try:
            self.pm.register(record.module, name=ep.name)
            self.pm.check_pending()
        except Exception as exc:
            self._unregister(ep.name)
            record.fail(f"refused by the hook checks: {exc}")
            return record
        record.hooks = sorted(
            caller.name for caller in self.pm.get_hookcallers(record.module) or []
        )
        try:
            record.config = self._configure(ep.name, own)
            record.contributions = self._collect(record, make_context(ep.name))
        except PluginError as exc:
            self._unregister(ep.name)
            record.fail(str(exc))
        return record

    def _unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)

    def _call(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call `hook` through pluggy on plugin `name` alone (None when it does not implement it).

        One plugin at a time, so what a hook returns is attributed to (and blamed on) its plugin.
        """
        plugin = self.pm.get_plugin(name)
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
        if not caller.get_hookimpls():
            return None
        try:
            results = caller(**kwargs)
        except Exception as exc:
            raise PluginError(f"hook {hook} raised {type(exc).__name__}: {exc}") from exc
        return results[0] if results else None

    def _configure(self, name: str, own: dict[str, Any]) -> BaseModel | None:
        model = self._call(name, "genosd_config_model")
        if model is None:
            if own:
                raise PluginError(
                    f"plugins.{name}: this plugin takes no settings ({', '.join(own)})"
                )
            return None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError("genosd_config_model must return a pydantic model class")
        try:
            return model.model_validate(own)
        except ValidationError as exc:
            problems = [
                f"plugins.{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors()
            ]
            raise PluginError("invalid settings: " + "; ".join(problems)) from None

    def _collect(self, record: PluginRecord, context: PluginContext) -> Contributions:
        name, config = record.name, record.config
        out = Contributions()
        out.topics = _list_of(self._call(name, "genosd_topics", config=config), Topic, "topics")
        for topic in out.topics:
            if not topic.name.startswith(f"{name}."):
                raise PluginError(f"topic {topic.name!r} must be named '{name}.<something>'")
        routes = self._call(name, "genosd_routes", config=config, context=context)
        if routes is not None:
            out.routes = _checked_routes(routes)
        kwargs = {"config": config, "context": context}
        out.tools = _list_of(self._call(name, "genosd_tools", **kwargs), Tool, "tools")
        out.jobs = _list_of(self._call(name, "genosd_jobs", **kwargs), Job, "jobs")
        out.tasks = _list_of(self._call(name, "genosd_tasks", **kwargs), Task, "tasks")
        out.sinks = _list_of(self._call(name, "genosd_sinks", **kwargs), Sink, "sinks")
        out.notifiers = _list_of(
            self._call(name, "genosd_notifiers", **kwargs), Notifier, "notifiers"
        )
        prompts = self._call(name, "genosd_prompt_source", **kwargs)
        if prompts is not None and not callable(prompts):
            raise PluginError("genosd_prompt_source must return a callable or None")
        out.prompts = prompts
        for job in out.jobs:
            _check_job(job)
        named: list[Tool | Job | Task | Sink | Notifier] = [
            *out.tools,
            *out.jobs,
            *out.tasks,
            *out.sinks,
            *out.notifiers,
        ]
        for item in named:
            if not NAME.match(item.name):
                raise PluginError(
                    f"{type(item).__name__.lower()} name {item.name!r} must match {NAME.pattern}"
                )
        for sink in out.sinks:
            if sink.on_event is None and sink.on_points is None:
                raise PluginError(f"sink {sink.name!r} needs on_event or on_points")
            if sink.topics and sink.on_event is None:
                raise PluginError(f"sink {sink.name!r} lists topics but has no on_event")
        return out

    def prompt_source(self) -> PromptSource | None:
        """The prompt library genosd's features read: the first active plugin lending one."""
        for record in sorted(self.active, key=lambda r: r.name):
            if record.contributions.prompts is not None:
                return record.contributions.prompts
        return None

    def _check_unique_tools(self) -> None:
        owners: dict[str, str] = {}
        for record in self.active:
            for tool in record.contributions.tools:
                if tool.name in owners:
                    self._unregister(record.name)
                    record.fail(f"tool {tool.name!r} is already provided by {owners[tool.name]}")
                    break
            else:
                owners.update({t.name: record.name for t in record.contributions.tools})


def _list_of(value: Any, kind: type, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, kind) for v in value):
        raise PluginError(f"genosd_{what} must return a list of {kind.__name__}")
    return list(value)


def _checked_routes(routes: Any) -> Api:
    if not isinstance(routes, Api):
        raise PluginError("genosd_routes must return a genosd.endpoints.Api or None")
    for endpoint in routes.endpoints:
        if endpoint.role is None and not endpoint.signed_by:
            raise PluginError(
                f"plugin route {endpoint.path} must name a role, or say what authenticates its "
                "callers instead (signed_by)"
            )
        if not endpoint.path.startswith("/"):
            raise PluginError(f"plugin route {endpoint.path!r} must start with '/'")
    return routes


def _check_job(job: Job) -> None:
    if (job.every is None) == (job.cron is None):
        raise PluginError(f"job {job.name!r} needs exactly one of every= or cron=")
    if job.every is not None and job.every < 1:
        raise PluginError(f"job {job.name!r}: every must be at least 1 second")
    if job.cron is not None and not croniter.is_valid(job.cron):
        raise PluginError(f"job {job.name!r}: invalid cron expression {job.cron!r}")


def data_dir(state_dir: Path, name: str) -> Path:
    """Where a plugin keeps its files: <state_dir>/plugins/<name> (created on first use)."""
    return state_dir / "plugins" / name
