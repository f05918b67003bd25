"""The tool registry over the API: the tools a key's role may use, and calling one (audited).
The chat assistant, agents, MCP and ChatOps call the same registry."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.auth.keys import Role
from genosd.endpoints import PRINCIPAL, Api

routes = Api("genosd", __version__)


class ToolInfo(BaseModel):
    """A tool: what it takes (JSON Schema), who may call it, its limits."""

    name: str
    description: str
    owner: str
    role: Role
    writes: bool
    timeout: float
    max_chars: int
    parameters: dict[str, Any]


class ToolList(BaseModel):
    """The tools this key may call."""

    items: list[ToolInfo]


class ToolCallIn(Strict):
    """A call's arguments (validated by the tool's own model)."""

    arguments: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = Field(None, max_length=100, description="the agent asking, for audit")


class ToolCallOut(BaseModel):
    """What the tool gave (JSON text, capped), or why it failed."""

    tool: str
    ok: bool
    content: str
    chars: int
    truncated: bool
    duration: float
    error: str | None


@routes.route("GET", "/api/v1/tools", tag="tools", role=Role.viewer, response=ToolList)
async def list_tools(request: web.Request) -> ToolList:
    """The tools this key's role may call (read-only and write tools alike)."""
    role = request[PRINCIPAL].role
    tools = runtime_of(request).tools.available(role, writes=True)
    return ToolList(
        items=[
            ToolInfo(
                name=t.name,
                description=t.description,
                owner=t.owner,
                role=t.role,
                writes=t.writes,
                timeout=t.timeout,
                max_chars=t.max_chars,
                parameters=t.args.model_json_schema(),
            )
            for t in tools
        ]
    )


@routes.route(
    "POST",
    "/api/v1/tools/{name}",
    tag="tools",
    role=Role.viewer,
    body=ToolCallIn,
    response=ToolCallOut,
)
async def call_tool(request: web.Request, body: ToolCallIn) -> ToolCallOut:
    """Call a tool as this key (its role checked per tool); failures are results, audited too."""
    result = await runtime_of(request).tools.call(
        request.match_info["name"],
        body.arguments,
        actor=actor_of(request),
        role=request[PRINCIPAL].role,
        agent=body.agent,
    )
    return ToolCallOut(
        tool=result.tool,
        ok=result.ok,
        content=result.content,
        chars=result.chars,
        truncated=result.truncated,
        duration=result.duration,
        error=result.error,
    )
