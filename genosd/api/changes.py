"""Planned changes: plan (dry run) → approve (by the diff's SHA-256) → deploy, and restores."""

from __future__ import annotations

from aiohttp import web

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import ApproveIn, ChangeList, ChangeQuery, DeployOut, PlanOut
from genosd.app import changes
from genosd.auth.keys import Role
from genosd.config.changes import Change, get_change, list_changes
from genosd.endpoints import Api
from genosd.errors import InvalidRequestError

routes = Api("genosd", __version__)


def _plan_out(result: changes.PlanResult) -> PlanOut:
    report = result.report
    return PlanOut(
        device=result.device,
        in_sync=result.in_sync,
        error=result.plan.error,
        change=result.change,
        score=report.score if report else 0.0,
        llm=report.llm if report else "not configured",
        llm_prompt=report.llm_prompt if report else None,
    )


@routes.route(
    "POST",
    "/api/v1/devices/{name}/plan",
    tag="changes",
    role=Role.operator,
    response=PlanOut,
    conflicts=True,
    config_errors=True,
)
async def plan_change(request: web.Request) -> PlanOut:
    """Dry run: render, validate and diff against the live device; records a pending change."""
    result = await changes.plan(
        runtime_of(request).core, request.match_info["name"], actor_of(request)
    )
    return _plan_out(result)


@routes.route(
    "POST",
    "/api/v1/devices/{name}/configs/{version}/restore",
    tag="changes",
    role=Role.operator,
    response=PlanOut,
    conflicts=True,
    config_errors=True,
)
async def plan_restore(request: web.Request) -> PlanOut:
    """Dry run of bringing a stored version back; records a pending change like a plan."""
    name, version = request.match_info["name"], request.match_info["version"]
    result = await changes.plan_restore(runtime_of(request).core, name, version, actor_of(request))
    return _plan_out(result)


@routes.route(
    "GET",
    "/api/v1/approvals",
    tag="changes",
    role=Role.viewer,
    query=ChangeQuery,
    response=ChangeList,
)
async def list_approvals(request: web.Request, query: ChangeQuery) -> ChangeList:
    """Planned changes and their approval state, newest first."""
    db = runtime_of(request).core.db
    found = await db.run(lambda c: list_changes(c, device=query.device, status=query.status))
    page = found[query.offset : query.offset + query.limit]
    return ChangeList(items=page, total=len(found), limit=query.limit, offset=query.offset)


def _change_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidRequestError(f"change id must be a number, not {raw[:40]!r}")
    return int(raw)


@routes.route(
    "GET", "/api/v1/approvals/{id:[0-9]+}", tag="changes", role=Role.viewer, response=Change
)
async def get_approval(request: web.Request) -> Change:
    """One planned change with its diff, findings and outcome."""
    return await runtime_of(request).core.db.run(get_change, _change_id(request))


@routes.route(
    "POST",
    "/api/v1/approvals/{id:[0-9]+}/approve",
    tag="changes",
    role=Role.operator,
    body=ApproveIn,
    response=Change,
    conflicts=True,
)
async def approve(request: web.Request, body: ApproveIn) -> Change:
    """Approve a pending change by naming the SHA-256 of the diff you reviewed."""
    core = runtime_of(request).core
    return await changes.approve(core, _change_id(request), body.sha256, actor_of(request))


@routes.route(
    "POST",
    "/api/v1/approvals/{id:[0-9]+}/reject",
    tag="changes",
    role=Role.operator,
    response=Change,
    conflicts=True,
)
async def reject(request: web.Request) -> Change:
    """Reject a pending or approved change so it can never be deployed."""
    return await changes.reject(runtime_of(request).core, _change_id(request), actor_of(request))


@routes.route(
    "POST",
    "/api/v1/approvals/{id:[0-9]+}/deploy",
    tag="changes",
    role=Role.operator,
    response=DeployOut,
    conflicts=True,
    config_errors=True,
)
async def deploy(request: web.Request) -> DeployOut:
    """Push an approved change; it is verified, post-checked and rolled back on any failure."""
    result = await changes.deploy(runtime_of(request).core, _change_id(request), actor_of(request))
    outcome = result.outcome
    return DeployOut(
        change=result.change,
        status=outcome.status,
        reason=outcome.reason,
        sent=outcome.sent,
        rollback=outcome.rollback,
        post_checks=outcome.post_checks,
    )
