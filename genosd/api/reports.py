"""Health scores, capacity and reports over the API."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.app import health, reports
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.reports.render import render

routes = Api("genosd", __version__)
CONTENT_TYPES = {"html": "text/html", "csv": "text/csv", "json": "application/json"}


class SourceQuery(Strict):
    """Where the metrics come from."""

    source: Literal["auto", "influx", "local"] = "auto"


class DeviceScore(BaseModel):
    """A device's score (null: nothing known), its parts and what lowered it."""

    device: str
    score: float | None
    parts: dict[str, float]
    reasons: list[str]
    unknown: list[str]


class GroupScoreOut(BaseModel):
    """A group's score: the mean of its devices', its worst, how many are under 70."""

    group: str
    score: float
    devices: int
    worst: str | None
    worst_score: float | None
    poor: int
    reasons: list[str]


class HealthOut(BaseModel):
    """Every device's and group's health, worst first."""

    at: float
    fleet: float | None
    devices: list[DeviceScore]
    groups: list[GroupScoreOut]
    unknown: list[str]


class CapacityQuery(Strict):
    """The window and threshold (defaults: the `capacity` settings)."""

    days: int | None = Field(None, ge=3, le=400)
    threshold: float | None = Field(None, gt=0, le=100)
    source: Literal["auto", "influx", "local"] | None = None
    limit: int = Field(50, ge=1, le=10_000)


class CapacityOut(BaseModel):
    """Links crossing the threshold within the horizon, the fastest growing, the busiest."""

    at: float
    source: str
    days: int
    threshold: float
    horizon_days: float
    links: int
    with_trend: int
    crossing_total: int
    crossing: list[dict[str, Any]]
    top_growth: list[dict[str, Any]]
    busiest: list[dict[str, Any]]


class ReportQuery(Strict):
    """The format."""

    format: Literal["html", "csv", "json"] = "html"


@routes.route(
    "GET", "/api/v1/fleet/health", tag="reports", role=Role.viewer, query=SourceQuery,
    response=HealthOut, unavailable=True,
)  # fmt: skip
async def get_health(request: web.Request, query: SourceQuery) -> HealthOut:
    """Health scores per device and group, each with what lowered it."""
    return HealthOut.model_validate(await health.health(runtime_of(request).core, query.source))


@routes.route(
    "GET", "/api/v1/fleet/capacity", tag="reports", role=Role.viewer, query=CapacityQuery,
    response=CapacityOut, unavailable=True,
)  # fmt: skip
async def get_capacity(request: web.Request, query: CapacityQuery) -> CapacityOut:
    """Per-link utilisation percentiles, trend and the day each crosses the threshold."""
    found = await health.capacity(
        runtime_of(request).core,
        days=query.days,
        threshold=query.threshold,
        source=query.source,
        limit=query.limit,
    )
    return CapacityOut.model_validate(found)


@routes.route(
    "GET",
    "/api/v1/reports/{kind}",
    tag="reports",
    role=Role.viewer,
    query=ReportQuery,
    media_types=tuple(CONTENT_TYPES.values()),
    unavailable=True,
)
async def get_report(request: web.Request, query: ReportQuery) -> web.Response:
    """A report (inventory, health, capacity, compliance, changes) as HTML, CSV or JSON."""
    report = await reports.build(runtime_of(request).core, request.match_info["kind"][:32])
    return web.Response(
        text=render(report, query.format),
        content_type=CONTENT_TYPES[query.format],
        charset="utf-8",
    )
