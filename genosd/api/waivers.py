"""Compliance waivers over the API: list (viewer), add and revoke (admin; audited)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.auth.keys import Role
from genosd.config.waivers import Waiver, WaiverRequest, add_waiver, list_waivers, revoke_waiver
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
    db = runtime_of(request).core.db
    return WaiverList(items=await db.run(lambda c: list_waivers(c, active_only=not query.all)))


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
    core = runtime_of(request).core
    known = core.lifecycle.known_rules()
    actor = actor_of(request)
    return await core.db.run(lambda c: add_waiver(c, body, known, actor))


@routes.route(
    "DELETE", "/api/v1/waivers/{id:[0-9]+}", tag="compliance", role=Role.admin, response=Waiver
)
async def delete_waiver(request: web.Request) -> Waiver:
    """Revoke a waiver now (it stays listed with `all=true`)."""
    waiver_id = int(request.match_info["id"][:18])
    actor = actor_of(request)
    return await runtime_of(request).core.db.run(lambda c: revoke_waiver(c, waiver_id, actor))
