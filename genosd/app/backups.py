"""Config backups: one run over the selected SSH devices, on demand or on `ssh.backup_schedule`.

A run, whoever starts it (the API, the CLI, the schedule, a playbook), publishes `run` events,
checks each running config against the compliance rules and records the scores, raises an alert
for every changed host key, updates SSH-only devices' status, and writes one audit entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from genosd.app.command_history import recorded
from genosd.app.compliance import record_report
from genosd.app.core import AppCore
from genosd.app.fanout import device_names, fan_out, part_failure, ssh_devices_here
from genosd.app.jobs import Cron, Job
from genosd.cluster import Work, WorkResult
from genosd.config import backup_state
from genosd.config.backup import BackupResult, ReadConfig, backup, read_configs, store
from genosd.config.history import history_path
from genosd.config.scrub import ScrubReport
from genosd.config.scrub import scrub_history as scrub
from genosd.config.secrets import Masker, every_platform, key_id
from genosd.config.validate import ValidationReport, check_rules, report_data, report_from
from genosd.config.waivers import Waiver, apply_waivers, list_waivers
from genosd.errors import ConflictError
from genosd.inventory import Device

log = logging.getLogger(__name__)
READ_KIND = "backup.read"


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
        with recorded(core, actor, "backup"):
            if core.work.distributed:
                results = await _backup_on_nodes(core, ssh_devices, actor, reports, waivers)
            else:
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
                    inspect=_inspector(core, by_name, reports, waivers),
                )
        for name, report in reports.items():
            await record_report(core, name, "running", report)
        outcomes = [(r.device, r.ok, r.error) for r in results]
        await core.db.run(backup_state.remember, outcomes, time.time())
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


def _inspector(
    core: AppCore,
    by_name: dict[str, Device],
    reports: dict[str, ValidationReport],
    waivers: Sequence[Waiver],
) -> Callable[[str, str], None]:
    """Checks each running config read against its platform's compliance rules into `reports`."""

    def inspect(name: str, text: str) -> None:
        device = by_name.get(name)
        if device is not None and device.profile is not None:
            masker = core.lifecycle.masker(device)
            rules = core.lifecycle.running_rules(device.platform or "")
            reports[name] = check_rules(device, masker, text, rules, waivers)

    return inspect


async def _backup_on_nodes(
    core: AppCore,
    devices: list[Device],
    actor: str,
    reports: dict[str, ValidationReport],
    waivers: Sequence[Waiver],
) -> list[BackupResult]:
    """Backups read by the cluster's nodes (genosd.app.fanout) and committed here, so the history
    has one author; reports are checked there and waived here, where the waivers are."""
    own_key = key_id(core.lifecycle.mask_key)
    by_name = {d.name: d for d in devices}
    failed: dict[str, BackupResult] = {}
    read: list[ReadConfig] = []
    now = time.time()
    for names, outcome in await fan_out(core, READ_KIND, devices, device_names):
        problem = _part_problem(outcome, own_key, core.settings.ssh.mask_secrets)
        if problem is not None:
            failed.update({n: BackupResult(n, False, error=problem) for n in names})
            continue
        for entry in outcome.data.get("read", []):
            try:
                if entry.pop("ok"):
                    read.append(ReadConfig(**entry))
                else:
                    failed[entry["device"]] = BackupResult(**entry)
            except (KeyError, TypeError):
                log.warning("a backup part from %s had an unreadable entry", outcome.node)
        for name, data in outcome.data.get("reports", {}).items():
            if name in by_name:
                report = report_from(data)
                apply_waivers(report.findings, by_name[name], list(waivers), now)
                reports[name] = report

    def commit() -> list[BackupResult]:
        stored = [store(core.history, r, actor) for r in read if r.device in by_name]
        core.history.checkout()
        return stored

    stored = {r.device: r for r in await asyncio.to_thread(commit)}
    missing = "no node sent a result for it"
    return [
        stored.get(n) or failed.get(n) or BackupResult(n, False, error=missing) for n in by_name
    ]


def _part_problem(outcome: WorkResult, own_key: str, masking: bool) -> str | None:
    """Why a part's configs cannot go into this node's history, if they cannot."""
    failure = part_failure(outcome)
    if failure is not None:
        return failure
    if masking and outcome.data.get("mask_key") != own_key:
        return (
            f"{outcome.node} masks secrets with another key than this node: give every node "
            "the same <state_dir>/mask.key"
        )
    return None


async def read_part(core: AppCore, work: Work) -> dict[str, Any]:
    """Read the running configs of a backup part another node sent (nothing stored here)."""
    found, missing = ssh_devices_here(core, work)
    entries = [
        {"ok": False, **asdict(BackupResult(name, False, error=error))}
        for name, error in missing.items()
    ]
    by_name = {d.name: d for d in found}
    settings = core.settings.ssh
    reports: dict[str, ValidationReport] = {}
    lifecycle = core.lifecycle
    await asyncio.to_thread(lambda: (lifecycle.rules, lifecycle.baselines))
    read = await asyncio.to_thread(
        read_configs,
        [d.ssh for d in by_name.values() if d.ssh is not None],
        core.known_hosts,
        policy=settings.host_key_policy,
        concurrency=settings.concurrency,
        mask=settings.mask_secrets,
        mask_key=lifecycle.mask_key,
        inspect=_inspector(core, by_name, reports, ()),
    )
    for outcome in read:
        entries.append({"ok": isinstance(outcome, ReadConfig), **asdict(outcome)})
    return {
        "mask_key": key_id(lifecycle.mask_key),
        "read": entries,
        "reports": {n: report_data(r) for n, r in reports.items()},
    }


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
