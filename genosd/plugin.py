"""The public surface for plugins: import everything a plugin needs from here, nothing else.

    from genosd.plugin import Api, Job, PluginContext, Role, Sink, Tool, Topic, hookimpl

What is listed in `__all__` is stable across minor releases; genosd's internals (the runtime, the
API package, the collectors) may change at any time and are never handed to a plugin. A plugin
reaches devices and data only through what its hooks are given (see docs/plugins.md).
"""

from __future__ import annotations

from genosd import hookimpl
from genosd.auth.keys import Role
from genosd.config.history import HistoryChange as ConfigChange
from genosd.endpoints import PRINCIPAL, Api
from genosd.errors import (
    ConflictError,
    GenosdError,
    InvalidRequestError,
    NotFoundError,
    PluginError,
)
from genosd.events import Topic
from genosd.llm import LlmUnavailable
from genosd.llm.prompts import (
    PromptBody,
    PromptSource,
    PromptVariable,
    ResolvedPrompt,
    builtin_prompts,
    json_schema,
    supplied_variables,
)
from genosd.llm.prompts import render as render_prompt
from genosd.llm.turns import Limits, OnEvent, ToolCallRecord, Turn
from genosd.metrics.model import FieldValue, Point
from genosd.pluginhost.contract import (
    Ask,
    Assist,
    Audit,
    CliSession,
    DeviceView,
    Embed,
    Embedding,
    Job,
    ModelAnswer,
    Notifier,
    OpenPlugin,
    PluginContext,
    Sink,
    Task,
    Tool,
    ToolInfo,
)
from genosd.processes import pid_alive
from genosd.sqlitefile import SqliteFile
from genosd.typedvars import coerce as coerce_variables

__all__ = [
    "PRINCIPAL",
    "Api",
    "Ask",
    "Assist",
    "Audit",
    "CliSession",
    "ConfigChange",
    "ConflictError",
    "DeviceView",
    "Embed",
    "Embedding",
    "FieldValue",
    "GenosdError",
    "InvalidRequestError",
    "Job",
    "Limits",
    "LlmUnavailable",
    "ModelAnswer",
    "NotFoundError",
    "Notifier",
    "OnEvent",
    "OpenPlugin",
    "PluginContext",
    "PluginError",
    "Point",
    "PromptBody",
    "PromptSource",
    "PromptVariable",
    "ResolvedPrompt",
    "Role",
    "Sink",
    "SqliteFile",
    "Task",
    "Tool",
    "ToolCallRecord",
    "ToolInfo",
    "Topic",
    "Turn",
    "builtin_prompts",
    "coerce_variables",
    "hookimpl",
    "json_schema",
    "pid_alive",
    "render_prompt",
    "supplied_variables",
]
