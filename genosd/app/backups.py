"""Config backups: one run over the selected SSH devices, on demand or on `ssh.backup_schedule`.

A run, whoever starts it (the API, the CLI, the schedule, a playbook), publishes `run` events,
checks each running config against the compliance rules and records the scores, raises an alert
for every changed host key, updates SSH-only devices' status, and writes one audit entry.
"""

from __future__ import annotations

import asyncio
import logging

from genosd.app.compliance import record_report
from genosd.app.core import AppCore
from genosd.app.jobs import Cron, Job
from genosd.config.backup import BackupResult, backup
from genosd.config.history import history_path
from genosd.config.scrub import ScrubReport
from genosd.config.scrub import scrub_history as scrub
from genosd.config.secrets import Masker, every_platform
from genosd.config.validate import ValidationReport, check_rules
from genosd.config.waivers import list_waivers
from genosd.errors import ConflictError
from genosd.inventory import Device

log = logging.getLogger(__name__)


async def run_backup(
    core: AppCore,
    devices: list[Device],
    actor: str,
    reports: dict[str, ValidationReport] | None = None,
) -> list[BackupResult]:
    """Back up `devices` (those with SSH settings) as `actor`; one result per device. The
    running configs' compliance reports go into `reports` when given."""
    if core.backup_lock.locked():
        raise ConflictError("a backup run is already in progress")
    async with core.backup_lock:
        ssh_devices = [d for d in devices if d.ssh is not None]
        targets = [d.ssh for d in ssh_devices if d.ssh is not None]
        settings = core.settings.ssh
        core.events.publish(
            "run",
            {"kind": "config_backup", "status": "started", "devices": len(targets), "actor": actor},
        )
        reports = {} if reports is None else reports
        lifecycle = core.lifecycle
        # load (and check) the rule files before any session opens
        await asyncio.to_thread(lambda: (lifecycle.rules, lifecycle.baselines))
        by_name = {d.name: d for d in ssh_devices}

        waivers = await core.db.run(list_waivers)

        def inspect(name: str, text: str) -> None:
            device = by_name.get(name)
            if device is not None and device.profile is not None:
                masker = core.lifecycle.masker(device)
                rules = lifecycle.running_rules(device.platform or "")
                reports[name] = check_rules(device, masker, text, rules, waivers)

        results = await asyncio.to_thread(
            backup,
            targets,
            core.history,
            core.known_hosts,
            policy=settings.host_key_policy,
            concurrency=settings.concurrency,
            author=actor,
            mask=settings.mask_secrets,
            mask_key=core.lifecycle.mask_key,
            inspect=inspect,
        )
        for name, report in reports.items():
            await record_report(core, name, "running", report)
        for r in results:
            core.status.record_ssh(by_name[r.device], r.ok, r.error, r.duration)
            if r.error and "CHANGED" in r.error:
                core.events.publish(
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
        failures = {r.device: r.error for r in results if not r.ok}
        core.events.publish(
            "run",
            {
                "kind": "config_backup",
                "status": "finished",
                **summary,
                "failures": failures,
                "ok": [r.device for r in results if r.ok],
            },
        )
        await core.audit(
            actor=actor,
            action="config_backup",
            target=f"devices:{len(results)}",
            result="ok" if not summary["failed"] else "failed",
            details=summary,
        )
        return results


class BackupFailures(Exception):
    """A scheduled backup run in which devices failed (the job shows it as failed)."""


def backup_job(core: AppCore) -> Job:
    """Back up every SSH device at the times of `ssh.backup_schedule` (empty: disabled)."""

    async def run() -> None:
        devices = [d for d in core.inventory.select() if d.ssh is not None]
        results = await run_backup(core, devices, "schedule")
        failed = sorted(r.device for r in results if not r.ok)
        if failed:
            shown = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
            raise BackupFailures(f"{len(failed)} of {len(results)} devices failed: {shown}")

    def schedule() -> Cron | None:
        expression = core.settings.ssh.backup_schedule
        return Cron(expression) if expression else None

    return Job("config_backup", "genosd", run, schedule, singleton=True)


async def scrub_history(core: AppCore, actor: str, *, dry_run: bool) -> ScrubReport:
    """Mask every stored version again (see genosd.config.scrub); audited unless a dry run."""
    lifecycle = core.lifecycle
    fallback = every_platform()

    def masker_for(name: str) -> Masker:
        device = core.inventory.devices.get(name)
        if device is not None and device.profile is not None:
            return lifecycle.masker(device)
        return Masker(fallback, name, lifecycle.mask_key)  # gone from the inventory

    async with core.backup_lock:
        report = await asyncio.to_thread(
            scrub, history_path(core.settings.state_dir), masker_for, dry_run=dry_run
        )
    if not dry_run:
        await core.audit(
            actor=actor,
            action="config_history_scrub",
            target=f"devices:{len(report.devices)}",
            result="ok",
            details={
                "commits": report.commits,
                "files": report.files,
                "secrets": report.secrets,
                "devices": report.devices[:50],
            },
        )
    return report
