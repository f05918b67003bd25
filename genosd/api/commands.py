"""The command history over the API (viewer): every command genosd sent to a device, masked."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.app.command_history import CommandQuery, search
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class CommandsQuery(Strict):
    """Which commands to list (every condition given holds)."""

    device: str | None = Field(None, max_length=256)
    since: float | None = Field(None, description="Unix seconds")
    until: float | None = Field(None, description="Unix seconds")
    reason: str | None = Field(
        None, max_length=128, description="backup, facts, deploy, restore, playbook NAME, tool NAME"
    )
    actor: str | None = Field(None, max_length=256)
    q: str | None = Field(None, max_length=256, description="text in the command, output or error")
    output: bool = Field(True, description="include each command's output")
    limit: int = Field(100, ge=1, le=1000)


class CommandOut(BaseModel):
    """One command sent to one device: who asked and why, what came back (secrets masked)."""

    id: int
    at: float
    device: str
    kind: str
    command: str
    output: str | None = None
    truncated: bool
    ok: bool
    error: str | None
    duration: float
    actor: str
    reason: str
    ref: str | None


class CommandList(BaseModel):
    """Sent commands, newest first."""

    items: list[CommandOut]


@routes.route(
    "GET",
    "/api/v1/commands",
    tag="commands",
    role=Role.viewer,
    query=CommandsQuery,
    response=CommandList,
)
async def get_commands(request: web.Request, query: CommandsQuery) -> CommandList:
    """Commands genosd sent to devices, newest first, by device, time, reason, actor and text."""
    core = runtime_of(request).core
    await core.flush_commands()  # what was sent up to now, not up to the last flush
    found = CommandQuery(
        device=query.device,
        since=query.since,
        until=query.until,
        text=query.q,
        reason=query.reason,
        actor=query.actor,
        limit=query.limit,
        with_output=query.output,
    )
    rows = await core.db.run(search, found)
    return CommandList(items=[CommandOut.model_validate(r) for r in rows])
