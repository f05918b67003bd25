"""Intended configs and changes: render → validate → plan (dry run) → approve → deploy.

These are the workflows behind `POST /devices/{name}/plan`, `/approvals/…` and `genosd config
deploy|restore|validate`: the same guards (one change at a time per device, across processes),
the same compliance records, `run` events, alerts and audit entries whichever adapter calls them.
Device work runs on worker threads; nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from genosd.app.cluster_deploys import deploy_on_node
from genosd.app.command_history import recorded
from genosd.app.compliance import record_report
from genosd.app.core import AppCore
from genosd.app.lifecycle import DevicePlan
from genosd.app.locks import device_lock, held
from genosd.cluster import held_lease
from genosd.config import changes
from genosd.config.backup import BackupResult
from genosd.config.deploy import DeployOutcome
from genosd.config.render import RenderedConfig, TemplateError
from genosd.config.validate import ValidationReport
from genosd.errors import ConflictError
from genosd.inventory import Device

log = logging.getLogger(__name__)
DEPLOY_LEASE = 120.0  # seconds, renewed every 40 s while a deploy runs


@dataclass(frozen=True)
class Intended:
    """A device's rendered intended config and its validation."""

    device: Device
    rendered: RenderedConfig
    report: ValidationReport
    shown: str  # the rendered text with every secret masked


@dataclass(frozen=True)
class PlanResult:
    """A dry run: the recorded pending change (None when in sync or failed) and its findings."""

    device: str
    plan: DevicePlan
    report: ValidationReport | None
    change: changes.Change | None

    @property
    def in_sync(self) -> bool:
        """The device already matches (nothing to deploy)."""
        return self.plan.error is None and self.change is None


@dataclass(frozen=True)
class DeployResult:
    """How a deploy ended, the change as recorded, and the backup taken after it."""

    change: changes.Change
    outcome: DeployOutcome
    backup: BackupResult | None


async def intended(core: AppCore, name: str, *, llm: bool) -> Intended:
    """Render and validate a device's intended config (TemplateError: the user's templates)."""
    lifecycle = core.lifecycle
    device = core.inventory.device(name)
    rendered = await asyncio.to_thread(lifecycle.render, device)
    report = await asyncio.to_thread(lifecycle.validate, device, rendered)
    if llm:
        await lifecycle.review(device, DevicePlan(device.name, rendered=rendered, report=report))
    await record_report(core, device.name, "intended", report)
    return Intended(device, rendered, report, lifecycle.shown(device, rendered.text))


async def validate(
    core: AppCore, devices: list[Device], *, llm: bool
) -> tuple[list[Intended], list[TemplateError]]:
    """Render and validate several devices' intended configs; template errors per device."""
    results, errors = [], []
    for device in devices:
        try:
            results.append(await intended(core, device.name, llm=llm))
        except TemplateError as exc:
            errors.append(exc)
    return results, errors


async def _busy(core: AppCore, device: str) -> None:
    operation = (await core.db.run(held)).get(device)
    if operation is not None:
        raise ConflictError(f"{device} is busy: {operation} in progress")


async def plan(
    core: AppCore, name: str, actor: str, features: list[str] | None = None
) -> PlanResult:
    """Dry run against the live device; a diff becomes a pending change to approve.

    `features` limits the change to those features of the intended config (None: all).
    """
    lifecycle = core.lifecycle
    device = lifecycle.device(name)
    await _busy(core, device.name)
    [dry_run] = await asyncio.to_thread(lifecycle.plan, [device], features)
    if dry_run.template_error is not None:
        raise dry_run.template_error  # the user's templates, not the device
    report = dry_run.report
    if dry_run.error is not None or dry_run.sha256 is None:  # the device failed: data
        return PlanResult(device.name, dry_run, report, None)
    await lifecycle.review(device, dry_run)
    if report is not None:
        await record_report(core, device.name, "intended", report)
    return await _pending(core, dry_run, "render", None, actor, features)


async def plan_restore(core: AppCore, name: str, version: str, actor: str) -> PlanResult:
    """Dry run of bringing a stored version back; a diff becomes a pending change."""
    lifecycle = core.lifecycle
    device = lifecycle.device(name)
    await _busy(core, device.name)
    dry_run = await asyncio.to_thread(lifecycle.plan_restore, device, version)
    if dry_run.error is not None or dry_run.report is None:
        return PlanResult(device.name, dry_run, dry_run.report, None)
    return await _pending(core, dry_run, "restore", version, actor)


async def _pending(
    core: AppCore,
    dry_run: DevicePlan,
    kind: changes.ChangeKind,
    source: str | None,
    actor: str,
    features: list[str] | None = None,
) -> PlanResult:
    report = dry_run.report
    assert report is not None  # a plan that read the device has been validated
    change = None
    if dry_run.commands:
        ttl = core.settings.configs.approval_ttl
        change = await core.db.run(
            lambda db: changes.create_change(
                db,
                device=dry_run.device,
                kind=kind,
                sha256=dry_run.sha256 or "",
                commands=dry_run.commands,
                rollback=dry_run.rollback,
                diff=dry_run.diff,
                findings=report.findings,
                actor=actor,
                ttl=ttl,
                llm=report.llm,
                source=source,
                features=features,
            )
        )
        core.events.publish(
            "run",
            {
                "kind": "config_plan",
                "status": "pending_approval",
                "device": dry_run.device,
                "change": change.id,
                "sha256": change.sha256,
                "actor": actor,
            },
        )
    return PlanResult(dry_run.device, dry_run, report, change)


async def approve(core: AppCore, change_id: int, sha256: str, actor: str) -> changes.Change:
    """Approve a pending change by the hash of the diff the approver reviewed."""
    configs = core.settings.configs
    return await core.db.run(
        lambda db: changes.approve_change(
            db,
            change_id,
            sha256=sha256,
            actor=actor,
            four_eyes=configs.four_eyes,
            require_llm=configs.require_llm_review,
        )
    )


async def reject(core: AppCore, change_id: int, actor: str) -> changes.Change:
    """Reject a pending or approved change so it can never be deployed."""
    return await core.db.run(lambda db: changes.reject_change(db, change_id, actor=actor))


async def deploy(
    core: AppCore, change_id: int, actor: str, *, device: str | None = None
) -> DeployResult:
    """Push an approved change: verified, post-checked, rolled back on any failure.

    One deploy per device at a time across every process (ConflictError otherwise); `device`,
    when given, must be the change's device.
    """
    change = await core.db.run(changes.get_change, change_id)
    # the state database's lock covers this node's processes; the cluster lease every node
    async with (
        device_lock(core.db, change.device, f"deploy of change {change_id}", actor),
        held_lease(core.coordinator, f"device:{change.device}", DEPLOY_LEASE),
    ):
        change = await core.db.run(lambda db: changes.start_deploy(db, change_id, device=device))
        core.events.publish(
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
            with recorded(
                core,
                actor,
                change.kind if change.kind == "restore" else "deploy",
                f"change {change_id}",
            ):
                if core.work.distributed:
                    outcome, saved = await deploy_on_node(core, change, actor)
                else:
                    outcome, saved = await asyncio.to_thread(core.lifecycle.deploy, change, actor)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            await core.db.run(
                lambda db: changes.finish_change(
                    db,
                    change_id,
                    "failed",
                    {"reason": reason},
                    actor=actor,
                    diff_hash=change.sha256,
                )
            )
            core.events.publish(
                "run",
                {
                    "kind": "config_deploy",
                    "status": "failed",
                    "device": change.device,
                    "change": change_id,
                    "reason": reason,
                    "rollback": None,
                },
            )
            raise
        status: changes.ChangeStatus = (
            "deployed" if outcome.status == "unchanged" else outcome.status
        )
        finished = await core.db.run(
            lambda db: changes.finish_change(
                db, change_id, status, outcome.as_dict(), actor=actor, diff_hash=outcome.sha256
            )
        )
    core.events.publish(
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
        core.events.publish(
            "alert",
            {
                "source": "genosd",
                "severity": "critical",
                "kind": "rollback_failed",
                "device": change.device,
                "message": outcome.rollback,
            },
        )
    return DeployResult(finished, outcome, saved)
