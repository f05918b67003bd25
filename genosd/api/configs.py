"""Config backups through the API and on a schedule, and the stored history of each device."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime

from aiohttp import web
from croniter import croniter

from genosd import __version__, audit
from genosd.api.models import (
    BackupRequest,
    BackupResultOut,
    BackupRunOut,
    ConfigDiffOut,
    ConfigTextOut,
    ConfigVersionList,
    ConfigVersionOut,
    DiffQuery,
    PageQuery,
)
from genosd.api.spec import PRINCIPAL, Api
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.config.backup import BackupResult, backup
from genosd.config.compliance import record_compliance
from genosd.config.history import ConfigHistory
from genosd.config.platforms import platform as platform_of
from genosd.config.validate import ValidationReport, check_rules
from genosd.errors import ConflictError
from genosd.inventory import Device

log = logging.getLogger(__name__)
routes = Api("genosd", __version__)


async def run_backup(state: DaemonState, devices: list[Device], actor: str) -> list[BackupResult]:
    """One backup run: results, `run` events, an alert per changed host key, an audit entry."""
    if state.backup_lock.locked():
        raise ConflictError("a backup run is already in progress")
    async with state.backup_lock:
        targets = [d.ssh for d in devices if d.ssh is not None]
        settings = state.settings.ssh
        state.events.publish(
            "run",
            {"kind": "config_backup", "status": "started", "devices": len(targets), "actor": actor},
        )
        reports: dict[str, ValidationReport] = {}
        lifecycle = state.lifecycle
        rules = await asyncio.to_thread(lambda: lifecycle.rules)

        def inspect(name: str, text: str) -> None:
            device = state.inventory.devices.get(name)
            if device is not None and device.platform is not None:
                reports[name] = check_rules(device, platform_of(device.platform), text, rules)

        results = await asyncio.to_thread(
            backup,
            targets,
            state.config_history,
            state.known_hosts,
            policy=settings.host_key_policy,
            concurrency=settings.concurrency,
            author=actor,
            mask=settings.mask_secrets,
            inspect=inspect,
        )
        for name, report in reports.items():
            await state.db.run(
                record_compliance,
                name,
                "running",
                report.score,
                report.rules_applied,
                report.rules_passed,
                report.findings,
            )
            state.compliance_scores[name] = report.score
        for r in results:
            if r.error and "CHANGED" in r.error:
                state.events.publish(
                    "alert",
                    {
                        "source": "genosd",
                        "severity": "critical",
                        "kind": "ssh_host_key_changed",
                        "device": r.device,
                        "message": r.error,
                    },
                )
        summary = {
            "devices": len(results),
            "changed": sum(r.changed for r in results),
            "failed": sum(not r.ok for r in results),
        }
        state.events.publish(
            "run",
            {
                "kind": "config_backup",
                "status": "finished",
                **summary,
                "failures": {r.device: r.error for r in results if not r.ok},
            },
        )
        await state.db.run(
            lambda db: audit.record(
                db,
                actor=actor,
                action="config_backup",
                target=f"devices:{len(results)}",
                result="ok" if not summary["failed"] else "failed",
                details=summary,
            )
        )
        return results


async def backup_schedule(state: DaemonState) -> None:
    """Run backups of every SSH device at the times of `ssh.backup_schedule` (cron)."""
    while True:
        schedule = state.settings.ssh.backup_schedule
        if not schedule:
            await asyncio.sleep(60)  # disabled; a reload may enable it
            continue
        now = datetime.now().astimezone()
        delay = croniter(schedule, now).get_next(datetime) - now
        await asyncio.sleep(delay.total_seconds())
        devices = [d for d in state.inventory.select() if d.ssh is not None]
        try:
            await run_backup(state, devices, "schedule")
        except ConflictError:
            log.info("scheduled backup skipped: a backup run is already in progress")
        except Exception:
            log.exception("scheduled backup failed")


@routes.route(
    "POST",
    "/api/v1/configs/backup",
    tag="configs",
    role=Role.operator,
    body=BackupRequest,
    response=BackupRunOut,
    conflicts=True,
)
async def backup_now(request: web.Request, body: BackupRequest) -> BackupRunOut:
    """Back up the selected SSH devices now (blocks until the run is done)."""
    state = request.app[STATE]
    devices = [d for d in state.inventory.select(body.model_dump(exclude_none=True)) if d.ssh]
    results = await run_backup(state, devices, request[PRINCIPAL].principal)
    return BackupRunOut(
        devices=len(results),
        changed=sum(r.changed for r in results),
        failed=sum(not r.ok for r in results),
        results=[BackupResultOut(**dataclasses.asdict(r)) for r in results],
    )


def _history(state: DaemonState, name: str) -> ConfigHistory:
    state.inventory.device(name)  # 404 for a device the inventory does not have
    return state.config_history


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ConfigVersionList,
)
async def list_config_versions(request: web.Request, query: PageQuery) -> ConfigVersionList:
    """Stored versions of the device's config, newest first."""
    history = _history(request.app[STATE], request.match_info["name"])
    versions = await asyncio.to_thread(history.versions, request.match_info["name"], 10_000)
    page = versions[query.offset : query.offset + query.limit]
    return ConfigVersionList(
        items=[ConfigVersionOut(**dataclasses.asdict(v)) for v in page],
        total=len(versions),
        limit=query.limit,
        offset=query.offset,
    )


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs/{version}",
    tag="configs",
    role=Role.viewer,
    response=ConfigTextOut,
)
async def get_config_version(request: web.Request) -> ConfigTextOut:
    """One stored version (secrets were masked before storage)."""
    name, version = request.match_info["name"], request.match_info["version"]
    text = await asyncio.to_thread(_history(request.app[STATE], name).show, name, version)
    return ConfigTextOut(device=name, version=version, text=text)


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs/{version}/diff",
    tag="configs",
    role=Role.viewer,
    query=DiffQuery,
    response=ConfigDiffOut,
)
async def diff_config_versions(request: web.Request, query: DiffQuery) -> ConfigDiffOut:
    """Unified diff from {version} to `to` (default: the newest version)."""
    name, version = request.match_info["name"], request.match_info["version"]
    history = _history(request.app[STATE], name)
    diff = await asyncio.to_thread(history.diff, name, version, query.to)
    return ConfigDiffOut(device=name, old=version, new=query.to or "latest", diff=diff)
