"""Intended configs, compliance, and planned changes: plan → approve (by hash) → deploy."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from genosd import __version__
from genosd.api.models import (
    ApproveIn,
    ChangeList,
    ChangeQuery,
    ComplianceList,
    DeployOut,
    IntendedOut,
    IntendedQuery,
    PageQuery,
    PlanOut,
)
from genosd.api.spec import PRINCIPAL, Api
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.config import changes
from genosd.config.compliance import compliance_history, record_compliance
from genosd.config.lifecycle import DevicePlan
from genosd.config.normalize import mask_secrets
from genosd.config.platforms import platform as platform_of
from genosd.config.validate import ValidationReport
from genosd.errors import ConflictError, InvalidRequestError
from genosd.inventory import Device

log = logging.getLogger(__name__)
routes = Api("genosd", __version__)


@routes.route(
    "GET",
    "/api/v1/devices/{name}/intended",
    tag="configs",
    role=Role.viewer,
    query=IntendedQuery,
    response=IntendedOut,
    config_errors=True,
)
async def get_intended(request: web.Request, query: IntendedQuery) -> IntendedOut:
    """The device's intended config rendered from templates (secrets masked), with findings."""
    state = request.app[STATE]
    lifecycle = state.lifecycle
    device = lifecycle.device(request.match_info["name"])
    rendered = await asyncio.to_thread(lifecycle.render, device)
    plan = DevicePlan(
        device.name,
        rendered=rendered,
        report=await asyncio.to_thread(lifecycle.validate, device, rendered),
    )
    if query.llm:
        await lifecycle.review(device, plan)
    report = plan.report
    assert report is not None
    await _record(state, device.name, "intended", report)
    return IntendedOut(
        device=device.name,
        platform=rendered.platform,
        features=list(rendered.features),
        text=mask_secrets(platform_of(rendered.platform), rendered.text)[0],
        score=report.score,
        rules_applied=report.rules_applied,
        rules_passed=report.rules_passed,
        llm=report.llm,
        findings=report.findings,
    )


async def _record(state: DaemonState, device: str, source: str, report: ValidationReport) -> None:
    db = state.db
    await db.run(
        record_compliance,
        device,
        source,
        report.score,
        report.rules_applied,
        report.rules_passed,
        report.findings,
    )
    state.compliance_scores[device] = report.score


@routes.route(
    "GET",
    "/api/v1/compliance",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ComplianceList,
)
async def list_compliance(request: web.Request, query: PageQuery) -> ComplianceList:
    """The newest compliance result of every device."""
    db = request.app[STATE].db
    records = await db.run(lambda c: compliance_history(c, latest_only=True))
    page = records[query.offset : query.offset + query.limit]
    return ComplianceList(items=page, total=len(records), limit=query.limit, offset=query.offset)


@routes.route(
    "GET",
    "/api/v1/devices/{name}/compliance",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ComplianceList,
)
async def device_compliance(request: web.Request, query: PageQuery) -> ComplianceList:
    """The device's compliance history, newest first."""
    state = request.app[STATE]
    name = request.match_info["name"]
    state.inventory.device(name)  # 404 for a device the inventory does not have
    records = await state.db.run(compliance_history, name)
    page = records[query.offset : query.offset + query.limit]
    return ComplianceList(items=page, total=len(records), limit=query.limit, offset=query.offset)


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
    state, device = _changeable(request)
    lifecycle = state.lifecycle
    [plan] = await asyncio.to_thread(lifecycle.plan, [device])
    if plan.template_error is not None:
        raise plan.template_error  # the user's templates, not the device: 422
    report = plan.report
    assert report is not None
    if plan.error is not None or plan.sha256 is None:  # the device failed: data, not an error
        return PlanOut(
            device=device.name, in_sync=False, error=plan.error, score=report.score, llm=report.llm
        )
    await lifecycle.review(device, plan)
    await _record(state, device.name, "intended", report)
    return await _pending_change(request, plan, report, "render", None)


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
    state, device = _changeable(request)
    version = request.match_info["version"]
    plan = await asyncio.to_thread(state.lifecycle.plan_restore, device, version)
    if plan.error is not None or plan.report is None:  # the device failed: data, not an error
        return PlanOut(
            device=device.name, in_sync=False, error=plan.error, score=0.0, llm="not configured"
        )
    return await _pending_change(request, plan, plan.report, "restore", version)


def _changeable(request: web.Request) -> tuple[DaemonState, Device]:
    """The state and the named SSH device, which no deploy is running on (409 otherwise)."""
    state = request.app[STATE]
    device = state.lifecycle.device(request.match_info["name"])
    if device.name in state.deploying:
        raise ConflictError(f"{device.name} is being deployed to")
    return state, device


async def _pending_change(
    request: web.Request,
    plan: DevicePlan,
    report: ValidationReport,
    kind: changes.ChangeKind,
    source: str | None,
) -> PlanOut:
    """Record a dry run that has commands as a pending change, and answer with it."""
    state = request.app[STATE]
    change = None
    if plan.commands:
        actor = request[PRINCIPAL].principal
        change = await state.db.run(
            lambda db: changes.create_change(
                db,
                device=plan.device,
                kind=kind,
                sha256=plan.sha256 or "",
                commands=plan.commands,
                rollback=plan.rollback,
                diff=plan.diff,
                findings=report.findings,
                actor=actor,
                ttl=state.settings.configs.approval_ttl,
                llm=report.llm,
                source=source,
            )
        )
    return PlanOut(
        device=plan.device,
        in_sync=change is None,
        score=report.score,
        llm=report.llm,
        change=change,
    )


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
    db = request.app[STATE].db
    found = await db.run(
        lambda c: changes.list_changes(c, device=query.device, status=query.status)
    )
    page = found[query.offset : query.offset + query.limit]
    return ChangeList(items=page, total=len(found), limit=query.limit, offset=query.offset)


def _change_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidRequestError(f"change id must be a number, not {raw[:40]!r}")
    return int(raw)


@routes.route(
    "GET", "/api/v1/approvals/{id}", tag="changes", role=Role.viewer, response=changes.Change
)
async def get_approval(request: web.Request) -> changes.Change:
    """One planned change with its diff, findings and outcome."""
    db = request.app[STATE].db
    return await db.run(changes.get_change, _change_id(request))


@routes.route(
    "POST",
    "/api/v1/approvals/{id}/approve",
    tag="changes",
    role=Role.operator,
    body=ApproveIn,
    response=changes.Change,
    conflicts=True,
)
async def approve(request: web.Request, body: ApproveIn) -> changes.Change:
    """Approve a pending change by naming the SHA-256 of the diff you reviewed."""
    state = request.app[STATE]
    actor = request[PRINCIPAL].principal
    change_id = _change_id(request)
    configs = state.settings.configs
    change = await state.db.run(
        lambda db: changes.approve_change(
            db,
            change_id,
            sha256=body.sha256,
            actor=actor,
            four_eyes=configs.four_eyes,
            require_llm=configs.require_llm_review,
        )
    )
    return change


@routes.route(
    "POST",
    "/api/v1/approvals/{id}/reject",
    tag="changes",
    role=Role.operator,
    response=changes.Change,
    conflicts=True,
)
async def reject(request: web.Request) -> changes.Change:
    """Reject a pending or approved change so it can never be deployed."""
    actor = request[PRINCIPAL].principal
    change_id = _change_id(request)
    db = request.app[STATE].db
    return await db.run(lambda c: changes.reject_change(c, change_id, actor=actor))


@routes.route(
    "POST",
    "/api/v1/approvals/{id}/deploy",
    tag="changes",
    role=Role.operator,
    response=DeployOut,
    conflicts=True,
    config_errors=True,
)
async def deploy(request: web.Request) -> DeployOut:
    """Push an approved change; it is verified, post-checked and rolled back on any failure."""
    state = request.app[STATE]
    actor = request[PRINCIPAL].principal
    change_id = _change_id(request)
    db = state.db
    change = await db.run(changes.get_change, change_id)
    if change.device in state.deploying:
        raise ConflictError(f"{change.device} is being deployed to")
    state.deploying.add(change.device)
    try:
        change = await db.run(changes.start_deploy, change_id)
        state.events.publish(
            "run",
            {
                "kind": "config_deploy",
                "status": "started",
                "device": change.device,
                "change": change_id,
                "actor": actor,
            },
        )
        try:
            outcome, _ = await asyncio.to_thread(state.lifecycle.deploy, change, actor)
        except Exception as exc:
            failure = {"reason": f"{type(exc).__name__}: {exc}"}
            await db.run(
                lambda c: changes.finish_change(
                    c, change_id, "failed", failure, actor=actor, diff_hash=change.sha256
                )
            )
            raise
        status: changes.ChangeStatus = (
            "deployed" if outcome.status == "unchanged" else outcome.status
        )
        finished = await db.run(
            lambda c: changes.finish_change(
                c, change_id, status, outcome.as_dict(), actor=actor, diff_hash=outcome.sha256
            )
        )
    finally:
        state.deploying.discard(change.device)
    state.events.publish(
        "run",
        {
            "kind": "config_deploy",
            "status": outcome.status,
            "device": change.device,
            "change": change_id,
            "reason": outcome.reason,
            "rollback": outcome.rollback,
        },
    )
    if outcome.status == "failed" and outcome.rollback and outcome.rollback != "verified":
        state.events.publish(
            "alert",
            {
                "source": "genosd",
                "severity": "critical",
                "kind": "rollback_failed",
                "device": change.device,
                "message": outcome.rollback,
            },
        )
    return DeployOut(
        change=finished,
        status=outcome.status,
        reason=outcome.reason,
        sent=outcome.sent,
        rollback=outcome.rollback,
        post_checks=outcome.post_checks,
    )
