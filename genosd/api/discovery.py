"""Discovery over the API: start a run, read runs and their proposals, accept or dismiss them.

Accepting writes hosts.yaml (comments kept) and reloads the daemon, so accepted devices are
polled at once; it needs an admin key, since it changes what genosd manages."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app import discovery
from genosd.app import reload as reloading
from genosd.auth.keys import Role
from genosd.endpoints import Api
from genosd.errors import ConfigError

routes = Api("genosd", __version__)


class DiscoveryStarted(BaseModel):
    """A run that goes on in the background; follow it on `discovery` events or GET its id."""

    id: int
    status: str


class ProposalOut(BaseModel):
    """One change to the inventory a run proposes."""

    id: int
    kind: str = Field(description="add (a new device), address (it moved), stale (gone)")
    device: str
    reason: str
    address: str | None
    old_address: str | None
    platform: str | None
    os: str | None
    credential: str | None
    sys_descr: str | None
    status: str = Field(description="open, accepted or dismissed")
    decided_by: str | None
    decided_at: float | None


class DiscoveryRunOut(BaseModel):
    """A run: how it went, what answered, what it proposes."""

    id: int
    started_at: float
    finished_at: float | None
    actor: str
    status: str = Field(description="running, finished, failed or interrupted")
    stopped: str | None = Field(description="why a run ended early, or why it failed")
    summary: dict[str, Any]
    sightings: list[dict[str, Any]] | None
    proposals: list[ProposalOut]


class DiscoveryRunList(BaseModel):
    """Runs, newest first (without their sightings)."""

    items: list[DiscoveryRunOut]


class RunsQuery(Strict):
    """How many runs to list."""

    limit: int = Field(20, ge=1, le=500)


class DecisionIn(Strict):
    """Which proposals of the run: their ids, or every open one."""

    ids: list[int] | None = Field(None, max_length=10_000, description="absent: all open ones")


class DecisionOut(BaseModel):
    """Proposals decided; for accepted ones the diff of hosts.yaml and the reload's outcome."""

    run: int
    decided: list[ProposalOut]
    diff: str | None = None
    reloaded: bool = False
    reload_error: str | None = Field(
        None, description="the file was written but the reload refused something else"
    )
    devices_added: list[str] = []


@routes.route(
    "POST",
    "/api/v1/discovery/runs",
    tag="discovery",
    role=Role.operator,
    response=DiscoveryStarted,
    status=202,
    conflicts=True,
)
async def start_discovery(request: web.Request) -> DiscoveryStarted:
    """Start a discovery run over the configured seeds and ranges (202; audited)."""
    runtime = runtime_of(request)
    run_id = await runtime.discoveries.start(runtime.core, actor_of(request))
    return DiscoveryStarted(id=run_id, status="running")


@routes.route(
    "GET",
    "/api/v1/discovery/runs",
    tag="discovery",
    role=Role.viewer,
    query=RunsQuery,
    response=DiscoveryRunList,
)
async def list_discoveries(request: web.Request, query: RunsQuery) -> DiscoveryRunList:
    """Discovery runs, newest first."""
    runs = await discovery.recent(runtime_of(request).core, query.limit)
    return DiscoveryRunList(items=[DiscoveryRunOut.model_validate(r) for r in runs])


@routes.route(
    "GET",
    "/api/v1/discovery/runs/{id:[0-9]+}",
    tag="discovery",
    role=Role.viewer,
    response=DiscoveryRunOut,
)
async def get_discovery(request: web.Request) -> DiscoveryRunOut:
    """One run with what answered at each address and its proposals."""
    run = await discovery.show(runtime_of(request).core, _run_id(request))
    return DiscoveryRunOut.model_validate(run)


@routes.route(
    "POST",
    "/api/v1/discovery/runs/{id:[0-9]+}/accept",
    tag="discovery",
    role=Role.admin,
    body=DecisionIn,
    response=DecisionOut,
    conflicts=True,
    config_errors=True,
)
async def accept_proposals(request: web.Request, body: DecisionIn) -> DecisionOut:
    """Write proposals into hosts.yaml (comments kept; refused if the inventory would not
    load), then reload; audited with the file's diff."""
    runtime = runtime_of(request)
    actor = actor_of(request)
    done = await discovery.accept(runtime.core, _run_id(request), body.ids, actor)
    decided = [ProposalOut.model_validate(p) for p in done["accepted"]]
    try:
        report = await reloading.reload(runtime, actor)
    except ConfigError as exc:  # hosts.yaml loaded when written: the settings are what failed
        return DecisionOut(
            run=done["run"], decided=decided, diff=done["diff"], reload_error=str(exc)
        )
    return DecisionOut(
        run=done["run"],
        decided=decided,
        diff=done["diff"],
        reloaded=True,
        devices_added=report.devices_added,
    )


@routes.route(
    "POST",
    "/api/v1/discovery/runs/{id:[0-9]+}/dismiss",
    tag="discovery",
    role=Role.operator,
    body=DecisionIn,
    response=DecisionOut,
    conflicts=True,
)
async def dismiss_proposals(request: web.Request, body: DecisionIn) -> DecisionOut:
    """Mark proposals dismissed; nothing is written (audited)."""
    runtime = runtime_of(request)
    done = await discovery.dismiss(
        runtime.core, _run_id(request), body.ids or [], actor_of(request)
    )
    return DecisionOut(
        run=done["run"], decided=[ProposalOut.model_validate(p) for p in done["dismissed"]]
    )


def _run_id(request: web.Request) -> int:
    return int(request.match_info["id"][:18])
