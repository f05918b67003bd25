"""Playbooks over the API: list them, start a run (in the background), list and read runs, and
decide about runs: approve or reject the gate one waits at, cancel, resume an interrupted one."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app import playbook_gates
from genosd.app.playbook_records import RunRecord
from genosd.app.playbooks import available, get_run, list_runs, plugin_tasks
from genosd.auth.keys import Role
from genosd.endpoints import PRINCIPAL, Api

routes = Api("genosd", __version__)


class PlaybookOut(BaseModel):
    """A playbook of `playbooks_dir`."""

    name: str
    description: str
    role: str
    schedule: str | None
    targets: dict[str, str | list[str]]
    variables: list[str]
    steps: int


class PlaybookList(BaseModel):
    """The playbooks, and the problems of files that are invalid."""

    items: list[PlaybookOut]
    problems: list[str]


class RunIn(Strict):
    """How to run a playbook."""

    vars: dict[str, str | int | float | bool | list[str]] = {}
    check: bool = False


class RunStarted(BaseModel):
    """A run that has started in the background; follow it on `run` events or GET its id."""

    id: int
    playbook: str
    status: str
    hosts: int


class RunSummary(BaseModel):
    """One run, without its per-step results."""

    id: int
    actor: str
    check: bool
    started_at: float
    finished_at: float | None
    status: str


class RunList(BaseModel):
    """A playbook's runs, newest first."""

    items: list[RunSummary]


class RunQuery(Strict):
    """How many runs."""

    limit: int = Field(50, ge=1, le=500)


class RunOut(BaseModel):
    """One run with every step's per-host results."""

    id: int
    playbook: str
    actor: str
    check: bool
    status: str
    started_at: float
    finished_at: float | None
    stopped_because: str | None
    failed_hosts: list[str]
    batches: list[list[str]]
    variables: dict[str, Any]
    steps: list[dict[str, Any]]
    cursor: dict[str, Any]
    gates: list[dict[str, Any]]
    changes: dict[str, dict[str, Any]]
    cancelled_by: str | None


class ApproveIn(Strict):
    """The gate's hash as the approver reviewed it (required when the gate approves changes)."""

    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class RunState(BaseModel):
    """A run after a decision: its status now."""

    id: int
    playbook: str
    status: str
    stopped_because: str | None


@routes.route("GET", "/api/v1/playbooks", tag="playbooks", role=Role.viewer, response=PlaybookList)
async def get_playbooks(request: web.Request) -> PlaybookList:
    """The playbooks of `playbooks_dir`, and what is wrong with the files that are invalid."""
    runtime = runtime_of(request)
    found, problems = available(runtime.core, plugin_tasks(runtime.plugins.host))
    items = [
        PlaybookOut(
            name=p.name,
            description=p.description,
            role=p.role,
            schedule=p.schedule.cron if p.schedule else None,
            targets=p.targets,
            variables=sorted(p.variables),
            steps=len(p.steps),
        )
        for p in sorted(found.values(), key=lambda p: p.name)
    ]
    return PlaybookList(items=items, problems=problems)


@routes.route(
    "POST",
    "/api/v1/playbooks/{name}/runs",
    tag="playbooks",
    role=Role.operator,
    body=RunIn,
    response=RunStarted,
    status=202,
)
async def start_run(request: web.Request, body: RunIn) -> RunStarted:
    """Start a run now (202: it goes on in the background; audited)."""
    record = await runtime_of(request).start_playbook(
        request.match_info["name"],
        actor=actor_of(request),
        role=request[PRINCIPAL].role,
        variables=dict(body.vars),
        check=body.check,
    )
    assert record.id is not None
    return RunStarted(
        id=record.id,
        playbook=record.playbook,
        status="running",
        hosts=sum(map(len, record.batches)),
    )


@routes.route(
    "GET",
    "/api/v1/playbooks/{name}/runs",
    tag="playbooks",
    role=Role.viewer,
    query=RunQuery,
    response=RunList,
)
async def get_runs(request: web.Request, query: RunQuery) -> RunList:
    """A playbook's runs, newest first."""
    rows = await runtime_of(request).core.db.run(list_runs, request.match_info["name"], query.limit)
    return RunList(items=[RunSummary.model_validate(row) for row in rows])


@routes.route("GET", "/api/v1/runs/{id:[0-9]+}", tag="playbooks", role=Role.viewer, response=RunOut)
async def get_one_run(request: web.Request) -> RunOut:
    """One run with every step's per-host results."""
    return RunOut.model_validate(await runtime_of(request).core.db.run(get_run, _run_id(request)))


def _state(record: RunRecord) -> RunState:
    assert record.id is not None
    return RunState(
        id=record.id,
        playbook=record.playbook,
        status=record.status,
        stopped_because=record.stopped_because,
    )


def _run_id(request: web.Request) -> int:
    return int(request.match_info["id"][:18])


@routes.route(
    "POST",
    "/api/v1/runs/{id:[0-9]+}/approve",
    tag="playbooks",
    role=Role.operator,
    body=ApproveIn,
    response=RunState,
)
async def approve_run(request: web.Request, body: ApproveIn) -> RunState:
    """Approve the gate the run waits at (its changes, bound to the gate's hash); it goes on."""
    claimed = await runtime_of(request).approve_run(
        _run_id(request),
        actor=actor_of(request),
        role=request[PRINCIPAL].role,
        sha256=body.sha256,
    )
    return _state(claimed)


@routes.route(
    "POST",
    "/api/v1/runs/{id:[0-9]+}/reject",
    tag="playbooks",
    role=Role.operator,
    response=RunState,
)
async def reject_run(request: web.Request) -> RunState:
    """Reject the gate the run waits at: its changes are rejected and the run ends."""
    runtime = runtime_of(request)
    return _state(await playbook_gates.reject(runtime.core, _run_id(request), actor_of(request)))


@routes.route(
    "POST",
    "/api/v1/runs/{id:[0-9]+}/cancel",
    tag="playbooks",
    role=Role.operator,
    response=RunState,
)
async def cancel_run(request: web.Request) -> RunState:
    """Cancel a run: one in flight stops before its next step (in whichever process runs it;
    `cancelling` until then); one waiting at a gate ends now and its changes are rejected."""
    runtime = runtime_of(request)
    run_id, actor = _run_id(request), actor_of(request)
    record = await playbook_gates.cancel(runtime.core, run_id, actor)
    if record.status != "running":
        return _state(record)
    runtime.playbook_runs.cancel(run_id, actor)  # here: at once, without waiting for a poll
    return _state(record).model_copy(update={"status": "cancelling"})


@routes.route(
    "POST",
    "/api/v1/runs/{id:[0-9]+}/resume",
    tag="playbooks",
    role=Role.operator,
    response=RunState,
)
async def resume_run(request: web.Request) -> RunState:
    """Go on with an interrupted run from where it stopped (in the background)."""
    runtime = runtime_of(request)
    claimed = await playbook_gates.resume(runtime.core, _run_id(request), actor_of(request))
    runtime.playbook_runs.start(runtime.core, claimed, plugin_tasks(runtime.plugins.host))
    return _state(claimed)
