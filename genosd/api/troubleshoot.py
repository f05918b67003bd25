"""Troubleshooting over the API: a device's diagnosis, the path between two devices, and
read-only lookups run from a device."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app import troubleshoot
from genosd.app.troubleshoot_tools import LookupKind, PathArgs
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.errors import InvalidRequestError, NotFoundError

routes = Api("genosd", __version__)


class DiagnosisQuery(Strict):
    """How far back, and whether to ask the device for its routing adjacencies."""

    minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="poll history for flaps")
    routing: bool = Field(False, description="read BGP and OSPF neighbours over SSH")


class FindingOut(BaseModel):
    """One problem, explained."""

    check: str
    severity: str = Field(description="info, warning or critical")
    device: str
    subject: str
    summary: str
    advice: str
    evidence: dict[str, Any]


class DiagnosisOut(BaseModel):
    """A device's findings, worst first, and what could not be checked."""

    device: str
    checked_at: float
    minutes: float
    findings: list[FindingOut]
    notes: list[str]


class HopOut(BaseModel):
    """One link of a path."""

    from_: str = Field(alias="from")
    from_interface: str
    to: str
    to_interface: str
    state: str
    out_utilization: float | None
    in_utilization: float | None
    out_bps: float | None
    errors_per_s: float | None


class PathOut(BaseModel):
    """The hops from source to target over the LLDP/CDP graph."""

    source: str
    target: str
    found: bool
    through_down_link: bool = False
    hops: list[HopOut]


class LookupIn(Strict):
    """Which lookup, and its argument."""

    kind: LookupKind
    target: str | None = Field(None, max_length=253)


class LookupOut(BaseModel):
    """What the device answered."""

    device: str
    kind: str
    command: str
    ok: bool = Field(description="false when the device could not be reached or refused")
    error: str | None
    output: str
    parsed: list[dict[str, Any]] | None
    summary: dict[str, Any] | None = None


@routes.route(
    "GET",
    "/api/v1/devices/{name}/diagnosis",
    tag="troubleshooting",
    role=Role.viewer,
    query=DiagnosisQuery,
    response=DiagnosisOut,
)
async def get_diagnosis(request: web.Request, query: DiagnosisQuery) -> DiagnosisOut:
    """Interface errors, duplex/speed mismatches, flaps, lost neighbours (and BGP/OSPF)."""
    found = await troubleshoot.diagnose(
        runtime_of(request).core,
        request.match_info["name"],
        minutes=query.minutes,
        routing_state=query.routing,
        actor=actor_of(request),
    )
    return DiagnosisOut.model_validate(found)


@routes.route(
    "GET",
    "/api/v1/topology/path",
    tag="troubleshooting",
    role=Role.viewer,
    query=PathArgs,
    response=PathOut,
)
async def get_path(request: web.Request, query: PathArgs) -> PathOut:
    """The path between two devices, each hop with its link state and utilisation."""
    try:
        found = await troubleshoot.path(runtime_of(request).core, query.source, query.target)
    except NotFoundError as exc:  # a query argument, not the resource, names the device
        raise InvalidRequestError(str(exc)) from None
    return PathOut.model_validate(found)


@routes.route(
    "POST",
    "/api/v1/devices/{name}/lookups",
    tag="troubleshooting",
    role=Role.operator,
    body=LookupIn,
    response=LookupOut,
    conflicts=True,
)
async def post_lookup(request: web.Request, body: LookupIn) -> LookupOut:
    """Run a read-only lookup from the device (kept in the command history)."""
    found = await troubleshoot.lookup(
        runtime_of(request).core,
        request.match_info["name"],
        body.kind,
        body.target,
        actor_of(request),
    )
    return LookupOut.model_validate(found)
