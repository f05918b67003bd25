"""Incidents, alerts, rules and silences over the API: read (viewer), act (operator; audited)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.alerts.rules import Rule
from genosd.alerts.silences import Silence, SilenceSpec
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app import incidents, notify
from genosd.app.alerting import IncidentDesk
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class IncidentQuery(Strict):
    """Which incidents to list."""

    status: Literal["open", "acknowledged", "resolved", "active"] | None = Field(
        None, description="`active`: open or acknowledged"
    )
    device: str | None = Field(None, max_length=256)
    limit: int = Field(100, ge=1, le=1000)


class IncidentOut(BaseModel):
    """An incident: what it is about, how bad, where it stands."""

    id: int
    group_key: str
    title: str
    severity: str
    status: str
    labels: dict[str, str]
    opened_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    resolved_at: float | None
    resolved_by: str | None


class AlertOut(BaseModel):
    """An alert (firing while `resolved_at` is null)."""

    id: int
    rule: str
    key: str
    severity: str
    labels: dict[str, str]
    summary: str
    value: float | str | None
    details: dict[str, Any]
    started_at: float
    fired_at: float
    resolved_at: float | None
    incident: int | None
    silenced_by: int | None


class TimelineEntry(BaseModel):
    """Something that happened to an incident."""

    at: float
    kind: str
    actor: str | None
    data: dict[str, Any]


class NotificationOut(BaseModel):
    """A notification sent (or being retried) about an incident."""

    id: int
    target: str
    incident: int | None
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: float
    sent_at: float | None


class IncidentDetail(IncidentOut):
    """An incident with its alerts, timeline and notifications."""

    alerts: list[AlertOut]
    timeline: list[TimelineEntry]
    notifications: list[NotificationOut] = []


class IncidentList(BaseModel):
    """Incidents, newest first."""

    items: list[IncidentOut]


class AlertList(BaseModel):
    """Alerts firing now, newest first."""

    items: list[AlertOut]


class RuleList(BaseModel):
    """The alert rules in effect."""

    items: list[Rule]


class SilenceList(BaseModel):
    """Silences and maintenance windows not ended."""

    items: list[Silence]


class NoteBody(Strict):
    """A person's words for the timeline."""

    note: str | None = Field(None, max_length=4000)


class NoteRequired(Strict):
    """A note for the timeline."""

    note: str = Field(min_length=1, max_length=4000)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"][:18])


def _desk(request: web.Request) -> IncidentDesk:
    runtime = runtime_of(request)
    return IncidentDesk(runtime.core, runtime.alerts)


async def _detail(request: web.Request, found: dict[str, Any]) -> IncidentDetail:
    core = runtime_of(request).core
    sent = await core.db.run(notify.list_notifications, found["id"])
    return IncidentDetail.model_validate({**found, "notifications": sent})


@routes.route(
    "GET",
    "/api/v1/incidents",
    tag="alerts",
    role=Role.viewer,
    query=IncidentQuery,
    response=IncidentList,
)
async def get_incidents(request: web.Request, query: IncidentQuery) -> IncidentList:
    """Incidents, newest first (by status, of one device)."""
    core = runtime_of(request).core
    rows = await core.db.run(
        lambda db: incidents.list_incidents(
            db, status=query.status, device=query.device, limit=query.limit
        )
    )
    return IncidentList(items=[IncidentOut.model_validate(row) for row in rows])


@routes.route(
    "GET", "/api/v1/incidents/{id:[0-9]+}", tag="alerts", role=Role.viewer, response=IncidentDetail
)
async def get_incident(request: web.Request) -> IncidentDetail:
    """One incident with its alerts, timeline and notifications."""
    core = runtime_of(request).core
    return await _detail(request, await core.db.run(incidents.get_incident, _id(request)))


@routes.route(
    "POST",
    "/api/v1/incidents/{id:[0-9]+}/acknowledge",
    tag="alerts",
    role=Role.operator,
    body=NoteBody,
    response=IncidentDetail,
    conflicts=True,
)
async def post_acknowledge(request: web.Request, body: NoteBody) -> IncidentDetail:
    """Acknowledge an open incident (someone is on it)."""
    found = await _desk(request).acknowledge(_id(request), actor_of(request), body.note)
    return await _detail(request, found)


@routes.route(
    "POST",
    "/api/v1/incidents/{id:[0-9]+}/resolve",
    tag="alerts",
    role=Role.operator,
    body=NoteBody,
    response=IncidentDetail,
    conflicts=True,
)
async def post_resolve(request: web.Request, body: NoteBody) -> IncidentDetail:
    """Resolve an incident by hand (it resolves itself when its alerts do)."""
    found = await _desk(request).resolve(_id(request), actor_of(request), body.note)
    return await _detail(request, found)


@routes.route(
    "POST",
    "/api/v1/incidents/{id:[0-9]+}/notes",
    tag="alerts",
    role=Role.operator,
    body=NoteRequired,
    response=IncidentDetail,
)
async def post_note(request: web.Request, body: NoteRequired) -> IncidentDetail:
    """Add a note to an incident's timeline."""
    found = await _desk(request).note(_id(request), actor_of(request), body.note)
    return await _detail(request, found)


@routes.route("GET", "/api/v1/alerts", tag="alerts", role=Role.viewer, response=AlertList)
async def get_alerts(request: web.Request) -> AlertList:
    """Alerts firing now (silenced ones included, with `silenced_by`)."""
    core = runtime_of(request).core
    rows = await core.db.run(incidents.list_alerts)
    return AlertList(items=[AlertOut.model_validate(row) for row in rows])


@routes.route("GET", "/api/v1/alerts/rules", tag="alerts", role=Role.viewer, response=RuleList)
async def get_rules(request: web.Request) -> RuleList:
    """The alert rules in effect (built-in and yours)."""
    return RuleList(items=list(runtime_of(request).core.snapshot.alert_rules))


@routes.route("GET", "/api/v1/silences", tag="alerts", role=Role.viewer, response=SilenceList)
async def get_silences(request: web.Request) -> SilenceList:
    """Silences and maintenance windows not ended."""
    core = runtime_of(request).core
    return SilenceList(items=await core.db.run(incidents.list_silences))


@routes.route(
    "POST",
    "/api/v1/silences",
    tag="alerts",
    role=Role.operator,
    body=SilenceSpec,
    response=Silence,
    status=201,
)
async def post_silence(request: web.Request, body: SilenceSpec) -> Silence:
    """Silence alerts whose labels match, or start a (recurring) maintenance window."""
    return await _desk(request).silence(body, actor_of(request))


@routes.route(
    "DELETE",
    "/api/v1/silences/{id:[0-9]+}",
    tag="alerts",
    role=Role.operator,
    response=Silence,
    conflicts=True,
)
async def delete_silence(request: web.Request) -> Silence:
    """End a silence or maintenance window now."""
    return await _desk(request).end_silence(_id(request), actor_of(request))
