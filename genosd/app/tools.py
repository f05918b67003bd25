"""One registry of tools for everything that acts on an operator's behalf: the chat assistant,
agents, the MCP server, ChatOps and plugins. genosd's own tools and the plugins' share it.

A call names a tool and gives JSON arguments; the registry checks the caller's role, validates the
arguments with the tool's pydantic model (every problem named), runs it under the tool's timeout,
turns the result into JSON text capped at the tool's size (a longer result is cut and says so),
redacts secrets from it, and audits the call (who, which agent, the tool, the arguments, the
result's size and outcome). A tool never raises to its caller: failures are results. Tools that
would change a device are marked `writes`; the registry keeps them out of read-only sets, and they
may only create change requests or paused runs that a human approves.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from genosd.app.command_history import recorded
from genosd.app.core import AppCore
from genosd.auth.keys import Role
from genosd.errors import GenosdError

ROLE_ORDER = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}
TRUNCATED = "\n…[truncated: {cut} of {total} characters left out; ask for less]"


@dataclass(frozen=True)
class Caller:
    """Who a tool runs for (tools that record something on their behalf need it)."""

    actor: str
    role: Role
    agent: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A tool: what it is called, what it takes, who may call it, how it runs."""

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[..., Awaitable[Any]]
    role: Role = Role.viewer
    owner: str = "genosd"  # or the plugin's name
    writes: bool = False
    timeout: float = 30.0
    max_chars: int = 16_000
    with_caller: bool = False  # run(args, caller) instead of run(args)

    def schema(self) -> dict[str, Any]:
        """The tool as LLM tool calling and MCP describe it."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters(self.args),
            },
        }


@functools.lru_cache(maxsize=512)
def parameters(args: type[BaseModel]) -> dict[str, Any]:
    """A tool's argument model as JSON Schema (made once: every chat turn lists the tools)."""
    return args.model_json_schema()


@dataclass
class ToolResult:
    """What a call gave: JSON text (or the error), its size, whether it was cut."""

    tool: str
    ok: bool
    content: str
    chars: int = 0
    truncated: bool = False
    duration: float = 0.0
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def allows(caller: Role, needed: Role) -> bool:
    """Whether a caller of role `caller` may use what needs `needed`."""
    return ROLE_ORDER[caller] >= ROLE_ORDER[needed]


class ToolRegistry:
    """The tools of this daemon (or CLI command), and the one way to call them."""

    def __init__(self, core: AppCore, tools: list[ToolSpec]):
        self.core = core
        self.tools: dict[str, ToolSpec] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise GenosdError(f"two tools are named {tool.name!r}")
            self.tools[tool.name] = tool

    def available(
        self, role: Role, *, writes: bool = False, names: list[str] | None = None
    ) -> list[ToolSpec]:
        """The tools a caller of `role` may use (read-only ones unless `writes`; only `names`
        when given), by name."""
        return [
            t
            for name, t in sorted(self.tools.items())
            if allows(role, t.role)
            and (writes or not t.writes)
            and (names is None or name in names)
        ]

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | str | None,
        *,
        actor: str,
        role: Role,
        agent: str | None = None,
        allowed: list[str] | None = None,
    ) -> ToolResult:
        """Run one tool call on behalf of `actor` (with `role`, as `agent` when one asks);
        `allowed` limits the tools an agent may use."""
        started = time.monotonic()
        why = f"tool {name}" + (f" ({agent})" if agent else "")
        with recorded(self.core, actor, why):
            result = await self._call(name, arguments, Caller(actor, role, agent), allowed)
        result.duration = round(time.monotonic() - started, 4)
        shown = json.dumps(arguments, default=str) if arguments is not None else "{}"
        entry = {
            "actor": actor,
            "action": "tool_call",
            "target": name,
            "result": "ok" if result.ok else "failed",
            "details": {
                "agent": agent,
                "arguments": self.core.llm.redact(shown)[:2000],
                "chars": result.chars,
                "truncated": result.truncated,
                "error": result.error,
                "duration": result.duration,
            },
        }
        tool = self.tools.get(name)
        if tool is not None and tool.writes:
            await self.core.audit(**entry)  # on disk before anyone hears of the change request
        else:  # a read: recorded in order behind the answer, not waited for
            self.core.audit_behind(**entry)
        return result

    async def _call(
        self,
        name: str,
        arguments: dict[str, Any] | str | None,
        caller: Caller,
        allowed: list[str] | None,
    ) -> ToolResult:
        role = caller.role
        tool = self.tools.get(name)
        if tool is None or (allowed is not None and name not in allowed):
            known = ", ".join(t.name for t in self.available(role, names=allowed)) or "none"
            return _failed(name, f"no tool {name!r} here (tools: {known})")
        if not allows(role, tool.role):
            return _failed(name, f"{name} needs the {tool.role.value} role")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError as exc:
                return _failed(name, f"the arguments are not JSON: {exc.msg}")
        try:
            args = tool.args.model_validate(arguments or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return _failed(name, f"invalid arguments: {problems}")
        try:
            running = tool.run(args, caller) if tool.with_caller else tool.run(args)
            value = await asyncio.wait_for(running, tool.timeout)
        except TimeoutError:
            return _failed(name, f"{name} did not finish within {tool.timeout:g} s")
        except GenosdError as exc:
            return _failed(name, str(exc))
        text = value if isinstance(value, str) else json.dumps(value, default=str, indent=1)
        text = self.core.llm.redact(text)
        total = len(text)
        truncated = total > tool.max_chars
        if truncated:
            text = text[: tool.max_chars] + TRUNCATED.format(
                cut=total - tool.max_chars, total=total
            )
        return ToolResult(name, True, text, total, truncated)


def _failed(name: str, error: str) -> ToolResult:
    return ToolResult(name, False, f"error: {error}", error=error)
