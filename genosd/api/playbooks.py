"""Playbooks over the API: list them, start a run (in the background), list and read runs."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import Strict
from genosd.app.playbook_engine import finish_run
from genosd.app.playbooks import available, begin, get_run, list_runs, plugin_tasks
from genosd.auth.keys import Role
from genosd.endpoints import PRINCIPAL, Api
from genosd.errors import NotFoundError, PermissionDenied

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
    runtime = runtime_of(request)
    tasks = plugin_tasks(runtime.plugins.host)
    found, _ = available(runtime.core, tasks)
    playbook = found.get(request.match_info["name"])
    if playbook is None:
        raise NotFoundError(f"no playbook {request.match_info['name']!r}")
    if not request[PRINCIPAL].role.allows(Role(playbook.role)):
        raise PermissionDenied(f"playbook {playbook.name!r} needs the {playbook.role} role")
    record = await begin(
        runtime.core,
        playbook,
        tasks,
        actor=actor_of(request),
        variables=dict(body.vars),
        check=body.check,
    )
    runtime.playbook_runs.start(finish_run(runtime.core, playbook, record, tasks))
    assert record.id is not None
    return RunStarted(
        id=record.id, playbook=playbook.name, status="running", hosts=sum(map(len, record.batches))
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
    run_id = int(request.match_info["id"][:18])
    return RunOut.model_validate(await runtime_of(request).core.db.run(get_run, run_id))
