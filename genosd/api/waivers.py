"""Compliance waivers over the API: list (viewer), add and revoke (admin; audited)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app.compliance import accept_finding, end_waiver, waivers
from genosd.auth.keys import Role
from genosd.config.waivers import Waiver, WaiverRequest
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class WaiverQuery(Strict):
    """Which waivers to list."""

    all: bool = False  # expired and revoked ones too


class WaiverList(BaseModel):
    """Waivers, newest first."""

    items: list[Waiver]


@routes.route(
    "GET",
    "/api/v1/waivers",
    tag="compliance",
    role=Role.viewer,
    query=WaiverQuery,
    response=WaiverList,
)
async def get_waivers(request: web.Request, query: WaiverQuery) -> WaiverList:
    """Waivers in force (all of them with `all=true`), newest first."""
    core = runtime_of(request).core
    return WaiverList(items=await waivers(core, active_only=not query.all))


@routes.route(
    "POST",
    "/api/v1/waivers",
    tag="compliance",
    role=Role.admin,
    body=WaiverRequest,
    response=Waiver,
    status=201,
    config_errors=True,
)
async def post_waiver(request: web.Request, body: WaiverRequest) -> Waiver:
    """Accept a rule's findings on a device, a group or every device until `expires_at`."""
    return await accept_finding(runtime_of(request).core, body, actor_of(request))


@routes.route(
    "DELETE", "/api/v1/waivers/{id:[0-9]+}", tag="compliance", role=Role.admin, response=Waiver
)
async def delete_waiver(request: web.Request) -> Waiver:
    """Revoke a waiver now (it stays listed with `all=true`)."""
    waiver_id = int(request.match_info["id"][:18])
    return await end_waiver(runtime_of(request).core, waiver_id, actor_of(request))
