"""Received syslog messages over the API (viewer); live ones on the `syslog` event topic."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.app.syslog_store import list_messages
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.syslog.message import SEVERITIES

routes = Api("genosd", __version__)
Severity = Literal["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]


class SyslogQuery(Strict):
    """Which messages to list."""

    device: str | None = Field(None, max_length=256)
    since: float | None = Field(None, description="Unix seconds")
    until: float | None = Field(None, description="Unix seconds")
    severity: Severity | None = Field(None, description="this severity or worse")
    event: str | None = Field(
        None, max_length=64, description="a structured event kind, or `any` for every one"
    )
    q: str | None = Field(None, max_length=256, description="text the message contains")
    limit: int = Field(100, ge=1, le=1000)


class SyslogOut(BaseModel):
    """One received message, parsed (header fields null where the sender gave none)."""

    id: int
    received_at: float
    source: str
    transport: str
    device: str | None
    format: str
    facility: str
    severity: str
    timestamp: float | None
    hostname: str | None
    app: str | None
    procid: str | None
    msgid: str | None
    structured: dict[str, dict[str, str]]
    message: str
    event: dict[str, Any] | None


class SyslogList(BaseModel):
    """Messages, newest first."""

    items: list[SyslogOut]


@routes.route(
    "GET", "/api/v1/syslog", tag="syslog", role=Role.viewer, query=SyslogQuery, response=SyslogList
)
async def get_syslog(request: web.Request, query: SyslogQuery) -> SyslogList:
    """Received syslog messages, newest first, filtered by device, time, severity, event, text."""
    core = runtime_of(request).core
    rows = await core.db.run(
        lambda db: list_messages(
            db,
            device=query.device,
            since=query.since,
            until=query.until,
            severity=SEVERITIES.index(query.severity) if query.severity else None,
            event=query.event,
            text=query.q,
            limit=query.limit,
        )
    )
    return SyslogList(items=[SyslogOut.model_validate(row) for row in rows])
