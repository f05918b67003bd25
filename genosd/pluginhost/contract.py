"""The plugin contract: hook specifications and the plain data types hooks return.

Every hook is optional. Each receives the plugin's validated settings (`config`, an instance of the
model from `genosd_config_model`, or None) and a `PluginContext`, and returns plain data that the
host checks before using it. A plugin never gets the daemon's internals.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genosd import hookspec
from genosd.auth.keys import Role
from genosd.config.history import HistoryChange
from genosd.endpoints import Api
from genosd.errors import PluginError
from genosd.events import Topic
from genosd.llm.prompts import PromptBook, PromptSource, ResolvedPrompt
from genosd.llm.turns import Turn
from genosd.metrics.model import Point

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class DeviceView:
    """What a plugin may know about an inventory device."""

    name: str
    hostname: str
    platform: str | None
    groups: tuple[str, ...]
    tags: tuple[str, ...]
    site: str | None
    role: str | None


@dataclass(frozen=True)
class ModelAnswer:
    """What a model said through genosd's LLM layer (its input redacted first), and its cost."""

    content: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    latency: float
    trimmed: int = 0
    cached: bool = False


# ask(kind, messages, model=None, schema=None, cache=True): the first usable answer of the
# models `kind` routes to (or `model`); `schema` a JSON Schema the answer must match; `cache`
# False to always ask the model. LlmUnavailable otherwise.
Ask = Callable[..., Awaitable[ModelAnswer]]


@dataclass(frozen=True)
class Embedding:
    """Vectors from genosd's LLM layer (`embed` task kind), and the model that made them."""

    vectors: list[list[float]]
    provider: str
    model: str


# embed(texts, model=None): one vector per text (each redacted first); LlmUnavailable otherwise
Embed = Callable[..., Awaitable[Embedding]]
# prompt(name, variables): genosd's prompt `name` (the prompt library's active version, else the
# built-in text) rendered with `variables`
PromptOf = Callable[[str, dict[str, Any]], Awaitable[ResolvedPrompt]]

# config_changes(after, limit): the device configs changed by the config history's commits after
# commit `after` (all when None), oldest first (blocking: call it in a worker thread)
ConfigChanges = Callable[[str | None, int], list[HistoryChange]]

# audit(actor, action, target, details): one entry in genosd's audit log, action prefixed with
# the plugin's name ("prompt.edit"); for every change a plugin makes on someone's behalf.
Audit = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class ToolInfo:
    """A tool of genosd's registry, as a plugin (an agent's checks) may know it."""

    name: str
    description: str
    role: Role
    writes: bool
    owner: str


# tools(role, writes=False): the registry's tools a caller of `role` may use (read-only ones
# unless `writes`)
ListTools = Callable[..., list[ToolInfo]]
Act = Callable[..., Awaitable[Any]]

# assist(messages, *, actor, role, agent=None, tools=None, pinned=None, writes=False, limits=None,
# model=None, on_event=None, kind="chat", stream=True): one assistant turn (genosd.llm.turns.Turn)
# answering `messages` with genosd's tools on `actor`'s behalf, `tools` the only ones an agent
# may use, `pinned` arguments forced on a tool ({"search_knowledge": {"tags": [...]}}),
# `writes` whether the turn may draft changes (change requests a person approves); bounded by
# `limits` (Limits). LlmUnavailable when no model answers.
Assist = Callable[..., Awaitable[Turn]]


def _no_tools(*args: Any, **kwargs: Any) -> list[ToolInfo]:
    return []


async def _no_assistant(*args: Any, **kwargs: Any) -> Turn:
    from genosd.llm import LlmUnavailable

    raise LlmUnavailable("the assistant runs inside the daemon only")


async def _no_actions(*args: Any, **kwargs: Any) -> Any:
    raise PluginError("people's actions (ChatOps) are lent to plugins only in the daemon")


async def _no_model(*args: Any, **kwargs: Any) -> ModelAnswer:
    from genosd.llm import LlmUnavailable

    raise LlmUnavailable("no LLM is available to this plugin")


async def _no_embedding(*args: Any, **kwargs: Any) -> Embedding:
    from genosd.llm import LlmUnavailable

    raise LlmUnavailable("no embedding model is available to this plugin")


async def _builtin_prompt(name: str, variables: dict[str, Any]) -> ResolvedPrompt:
    return await PromptBook().resolve(name, variables)


def _secret_free(text: str) -> str:
    return text


def _no_history(after: str | None, limit: int) -> list[HistoryChange]:
    return []


async def _log_only(actor: str, action: str, target: str, details: Any = None) -> None:
    logging.getLogger("genosd.plugin").info("audit: %s %s %s", actor, action, target)


@dataclass
class PluginContext:
    """The services the host lends a plugin."""

    name: str
    data_dir: Path
    log: logging.Logger
    publish: Callable[[str, dict[str, Any]], None]
    devices: Callable[[], list[DeviceView]]
    shared: dict[str, Any] = field(default_factory=dict)  # objects the plugin's hooks share
    ask: Ask = _no_model  # the LLM layer (genosd.llm), redaction and accounting included
    audit: Audit = _log_only  # genosd's audit log
    embed: Embed = _no_embedding  # the LLM layer's embedding models
    prompt: PromptOf = _builtin_prompt  # genosd's prompts (the library's active version)
    redact: Callable[[str], str] = _secret_free  # genosd's secret redaction (set by the host)
    config_changes: ConfigChanges = _no_history  # the config history (secrets as masked)
    tools: ListTools = _no_tools  # genosd's tool registry (in the daemon)
    assist: Assist = _no_assistant  # an assistant turn with tools (in the daemon)
    # act(name, args, *, actor, role): a person's action through genosd's workflows
    # (genosd.app.actions: status, pending, approve_change, approve_run, backup, incident_ack …)
    act: Act = _no_actions

    def get_or_create(self, key: str, factory: Callable[[], Any]) -> Any:
        """The plugin's shared object `key`, made by `factory` the first time."""
        if key not in self.shared:
            self.shared[key] = factory()
        return self.shared[key]


@dataclass(frozen=True)
class CliSession:
    """What a plugin's command gets: its validated settings, its context, who runs it."""

    config: Any
    context: PluginContext
    actor: str  # "cli:<user>", for the audit log
    api_url: str = "http://127.0.0.1:8470"  # the daemon's API, for work only the daemon can do
    api_ca: Path | None = None  # the daemon's own TLS certificate, to verify it by


# open_plugin(config_path): `async with open_plugin(path) as session:` in a plugin's command
OpenPlugin = Callable[[Path | None], AbstractAsyncContextManager[CliSession]]


@dataclass(frozen=True)
class Tool:
    """A typed action for the chat assistant and ChatOps: arguments validated by `args`."""

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[BaseModel], Awaitable[Any]]
    role: Role = Role.viewer


@dataclass(frozen=True)
class Notifier:
    """A notification target (a chat channel): `send` gets each incident change it is due
    (genosd's notification queue retries it with back-off while it raises)."""

    name: str
    send: Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    """Work run on a schedule: `every` seconds or a `cron` expression (exactly one)."""

    name: str
    run: Callable[[], Awaitable[Any]]
    every: float | None = None
    cron: str | None = None
    quiet: bool = False  # publish `job` events only for failures and recoveries (short loops)
    at_start: bool = False  # an `every` job's first run right at start, not one period later


@dataclass(frozen=True)
class Task:
    """A per-device step usable in playbooks: run(device name, validated args) -> result data."""

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[str, BaseModel], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Sink:
    """Receives events of `topics` and/or committed metric points; must not block for long."""

    name: str
    topics: tuple[str, ...] = ()
    on_event: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    on_points: Callable[[list[Point]], Awaitable[None]] | None = None
    queue_size: int = 1000


@dataclass
class Contributions:
    """Everything one plugin added, kept together so a failing plugin is removed as a whole."""

    topics: list[Topic] = field(default_factory=list)
    routes: Api | None = None
    tools: list[Tool] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    sinks: list[Sink] = field(default_factory=list)
    notifiers: list[Notifier] = field(default_factory=list)
    prompts: PromptSource | None = None


class GenosdHookSpecs:
    """The hooks a plugin may implement (all optional)."""

    @hookspec
    def genosd_config_model(self) -> type[BaseModel] | None:
        """The pydantic model that validates the plugin's `plugins.<name>` settings section."""
        return None

    @hookspec
    def genosd_topics(self, config: Any) -> list[Topic]:
        """Event topics the plugin publishes, named `<plugin>.<something>`."""
        return []

    @hookspec
    def genosd_routes(self, config: Any, context: PluginContext) -> Api | None:
        """Endpoints mounted under /api/v1/plugins/<name>/ (paths relative, roles required)."""
        return None

    @hookspec
    def genosd_tools(self, config: Any, context: PluginContext) -> list[Tool]:
        """Tools for the chat assistant and ChatOps."""
        return []

    @hookspec
    def genosd_jobs(self, config: Any, context: PluginContext) -> list[Job]:
        """Scheduled jobs."""
        return []

    @hookspec
    def genosd_tasks(self, config: Any, context: PluginContext) -> list[Task]:
        """Per-device tasks for playbooks."""
        return []

    @hookspec
    def genosd_sinks(self, config: Any, context: PluginContext) -> list[Sink]:
        """Consumers of events and metric points."""
        return []

    @hookspec
    def genosd_notifiers(self, config: Any, context: PluginContext) -> list[Notifier]:
        """Notification targets for incident changes (ChatOps channels)."""
        return []

    @hookspec
    def genosd_prompt_source(self, config: Any, context: PluginContext) -> PromptSource | None:
        """A prompt library: source(name) -> (active version, PromptBody) or None; genosd's
        features then use the active version of their prompts (config-review, …)."""
        return None

    @hookspec
    def genosd_cli(self, open_plugin: OpenPlugin) -> Any:
        """A typer.Typer mounted as `genosd <plugin name> …`; a command gets the plugin's
        settings, context and actor from `async with open_plugin(config_path) as session`."""
        return None
