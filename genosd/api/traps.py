"""Received SNMP traps and informs over the API (viewer); live ones on the `traps` event topic."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.app.traps import list_traps
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class TrapQuery(Strict):
    """Which traps to list."""

    device: str | None = Field(None, max_length=256)
    since: float | None = Field(None, description="Unix seconds")
    limit: int = Field(100, ge=1, le=1000)


class VarbindOut(BaseModel):
    """One variable of a notification, named from the MIB where known."""

    oid: str
    name: str
    value: int | str | None


class TrapOut(BaseModel):
    """One received notification (SNMPv1 traps in their SNMPv2 form, RFC 3584)."""

    id: int
    received_at: float
    source: str
    device: str | None
    version: str
    kind: str
    trap_oid: str
    name: str | None
    mib: str | None
    uptime: int | None
    security_name: str
    engine_id: str | None = None
    context: str | None = None
    agent_address: str | None = None
    varbinds: list[VarbindOut]


class TrapList(BaseModel):
    """Traps, newest first."""

    items: list[TrapOut]


@routes.route(
    "GET", "/api/v1/traps", tag="traps", role=Role.viewer, query=TrapQuery, response=TrapList
)
async def get_traps(request: web.Request, query: TrapQuery) -> TrapList:
    """Received traps and informs, newest first (of one device, since a time)."""
    core = runtime_of(request).core
    rows = await core.db.run(list_traps, query.device, query.since, query.limit)
    return TrapList(items=[TrapOut.model_validate(row) for row in rows])
