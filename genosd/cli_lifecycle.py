"""`genosd config render|validate|deploy|restore|changes`: intended configs from templates to devices."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from genosd.cli_config import DeviceArg, config_app
from genosd.cli_options import (
    ConfigOption,
    FilterOption,
    JsonOption,
    LabOption,
    console,
    fail,
    fail_config,
)
from genosd.errors import ConfigError, GenosdError

if TYPE_CHECKING:
    from genosd.config.changes import ChangeKind

out = Console(highlight=False, soft_wrap=True)


def _lifecycle(config: Path | None, lab: bool) -> tuple[Any, Any, Any]:
    from genosd.cli import _load
    from genosd.config.lifecycle import Lifecycle
    from genosd.statedb import connect, state_db_path

    try:
        state = _load(config, lab)
        lifecycle = Lifecycle(
            state.settings, state.inventory, state.known_hosts, state.config_history
        )
        lifecycle.rules  # noqa: B018 - load the rule files now: a bad one is a config error (78)
    except ConfigError as exc:
        fail_config(exc)
    return state, lifecycle, connect(state_db_path(state.settings.state_dir))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _findings_table(findings: list[Any]) -> Table:
    table = Table("severity", "layer", "rule", "line", "message", title="findings")
    for f in sorted(findings, key=lambda f: -f.level):
        colour = {"critical": "red", "major": "yellow"}.get(f.severity, "")
        severity = f"[{colour}]{f.severity}[/{colour}]" if colour else f.severity
        table.add_row(severity, f.layer, f.rule, str(f.line or ""), f.message)
    return table


@config_app.command("render")
def config_render(
    device: DeviceArg,
    config: ConfigOption = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="print secrets instead of <masked>")
    ] = False,
) -> None:
    """Print a device's intended config rendered from its templates (secrets masked)."""
    from genosd.config.normalize import mask_secrets
    from genosd.config.platforms import platform

    _, lifecycle, _ = _lifecycle(config, False)
    try:
        rendered = lifecycle.render(lifecycle.device(device))
    except ConfigError as exc:
        fail_config(exc)
    except GenosdError as exc:
        fail(str(exc))
    text = rendered.text
    sys.stdout.write(text if show_secrets else mask_secrets(platform(rendered.platform), text)[0])


@config_app.command("validate")
def config_validate(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="add the LLM review")] = True,
) -> None:
    """Render and validate the selected devices' intended configs; exit 1 on critical findings."""
    from genosd.config.compliance import record_compliance
    from genosd.config.lifecycle import DevicePlan
    from genosd.inventory import parse_filters

    state, lifecycle, db = _lifecycle(config, lab)
    devices = [d for d in state.inventory.select(parse_filters(filter or [])) if d.platform]
    if not devices:
        fail("no selected device has a platform", 2)
    reports: list[dict[str, Any]] = []
    template_errors = []
    for device in devices:
        try:
            rendered = lifecycle.render(device)
        except ConfigError as exc:
            template_errors.append(str(exc))
            continue
        plan = DevicePlan(
            device.name, rendered=rendered, report=lifecycle.validate(device, rendered)
        )
        if llm:
            asyncio.run(lifecycle.review(device, plan))
        report = plan.report
        assert report is not None
        record_compliance(
            db,
            device.name,
            "intended",
            report.score,
            report.rules_applied,
            report.rules_passed,
            report.findings,
        )
        reports.append(
            {
                "device": device.name,
                "score": report.score,
                "llm": report.llm,
                "blocking": len(report.blocking),
                "findings": [f.model_dump() for f in report.findings],
            }
        )
        if not json_out:
            out.print(
                f"[bold]{device.name}[/bold]: score {report.score:g}%  "
                f"({report.rules_passed}/{report.rules_applied} rules), LLM {report.llm}"
            )
            if report.findings:
                out.print(_findings_table(report.findings))
    if json_out:
        print(json.dumps({"devices": reports, "template_errors": template_errors}, indent=2))
    for error in template_errors:
        console.print(f"[red]template error:[/red] {error}", highlight=False, soft_wrap=True)
    if template_errors:
        raise typer.Exit(78)
    if any(r["blocking"] for r in reports):
        raise typer.Exit(1)


def _print_plan(plan: Any) -> None:
    out.print(f"[bold]{plan.device}[/bold]: {len(plan.commands)} line(s) to send")
    for line in plan.diff[2:]:  # skip the ---/+++ header
        colour = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        out.print(f"[{colour}]{line}[/{colour}]", markup=True)
    if plan.report and plan.report.findings:
        out.print(_findings_table(plan.report.findings))


@config_app.command("deploy")
def config_deploy(
    device: DeviceArg,
    config: ConfigOption = None,
    lab: LabOption = False,
    approve: Annotated[
        int | None, typer.Option("--approve", help="approve and deploy this planned change")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Dry run (plan a change and print its diff), or with --approve ID push it, verified."""
    _, lifecycle, db = _lifecycle(config, lab)
    try:
        target = lifecycle.device(device)
    except GenosdError as exc:
        fail(str(exc), 2)
    if approve is None:
        _plan(lifecycle, db, target, json_out)
    else:
        _deploy(lifecycle, db, device, approve, json_out)


def _plan(lifecycle: Any, db: Any, device: Any, json_out: bool) -> None:
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"planning {device.name}", total=None)
        [plan] = lifecycle.plan([device])
        asyncio.run(lifecycle.review(device, plan))
    _record_plan(lifecycle, db, plan, "render", None, json_out)


def _record_plan(
    lifecycle: Any, db: Any, plan: Any, kind: ChangeKind, source: str | None, json_out: bool
) -> None:
    """Record a dry run as a pending change and print it (exit 1 on a failure or critical finding)."""
    from genosd.config.changes import create_change

    if plan.error is not None:
        if json_out:
            print(json.dumps({"device": plan.device, "error": plan.error}))
        fail(plan.error)
    report = plan.report
    change = None
    if plan.commands:
        ttl = lifecycle.settings.configs.approval_ttl
        change = create_change(
            db,
            device=plan.device,
            kind=kind,
            sha256=plan.sha256,
            commands=plan.commands,
            rollback=plan.rollback,
            diff=plan.diff,
            findings=report.findings,
            actor=_actor(),
            ttl=ttl,
            llm=report.llm,
            source=source,
        )
    if json_out:
        print(
            json.dumps(
                {
                    "device": plan.device,
                    "kind": kind,
                    "source": source,
                    "change": change.id if change else None,
                    "sha256": plan.sha256,
                    "commands": plan.commands,
                    "rollback": plan.rollback,
                    "diff": plan.diff,
                    "score": report.score,
                    "llm": report.llm,
                    "findings": [f.model_dump() for f in report.findings],
                },
                indent=2,
            )
        )
    else:
        _print_plan(plan)
        if change is None:
            target = f"version {source}" if source else "its intended config"
            out.print(f"{plan.device} already matches {target}; nothing to deploy")
        elif report.blocking:
            out.print(f"[red]change {change.id} has critical findings and cannot be approved[/red]")
        else:
            out.print(
                f"dry run: nothing sent. change {change.id}, sha256 {plan.sha256}\n"
                f"to deploy exactly this diff: genosd config deploy {plan.device} "
                f"--approve {change.id}"
            )
    if report.blocking:
        raise typer.Exit(1)


@config_app.command("restore")
def config_restore(
    device: DeviceArg,
    version: Annotated[str, typer.Argument(help="the stored version (commit id or prefix)")],
    config: ConfigOption = None,
    lab: LabOption = False,
    json_out: JsonOption = False,
) -> None:
    """Dry run of bringing a stored version back: plans a change to approve with `config deploy`."""
    _, lifecycle, db = _lifecycle(config, lab)
    try:
        target = lifecycle.device(device)
        with Progress(console=console, transient=True) as progress:
            progress.add_task(f"planning the restore of {device} to {version}", total=None)
            plan = lifecycle.plan_restore(target, version)
    except GenosdError as exc:
        fail(str(exc), 2)
    _record_plan(lifecycle, db, plan, "restore", version, json_out)


def _deploy(lifecycle: Any, db: Any, device: str, change_id: int, json_out: bool) -> None:
    from genosd.config.changes import (
        ChangeStatus,
        approve_change,
        finish_change,
        get_change,
        start_deploy,
    )

    actor = _actor()
    try:
        change = get_change(db, change_id)
        if change.status == "pending":
            # running --approve after reading the dry run's diff is the approval of that diff
            change = approve_change(
                db,
                change_id,
                sha256=change.sha256,
                actor=actor,
                require_llm=lifecycle.settings.configs.require_llm_review,
            )
        change = start_deploy(db, change_id, device=device)
    except GenosdError as exc:
        fail(str(exc))
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"deploying change {change_id} to {device}", total=None)
        try:
            outcome, saved = lifecycle.deploy(change, actor)
        except GenosdError as exc:
            finish_change(
                db, change_id, "failed", {"reason": str(exc)}, actor=actor, diff_hash=change.sha256
            )
            fail(str(exc))
    status: ChangeStatus = "deployed" if outcome.status == "unchanged" else outcome.status
    finish_change(db, change_id, status, outcome.as_dict(), actor=actor, diff_hash=outcome.sha256)
    if json_out:
        print(
            json.dumps(
                {
                    **outcome.as_dict(),
                    "change": change_id,
                    "backup": asdict(saved) if saved else None,
                },
                indent=2,
            )
        )
    else:
        colour = "green" if outcome.status in ("deployed", "unchanged") else "red"
        out.print(
            f"[{colour}]{device}: {outcome.status}[/{colour}]"
            + (f": {outcome.reason}" if outcome.reason else "")
        )
        if outcome.rollback:
            out.print(f"rollback: {outcome.rollback}")
        for check in outcome.post_checks:
            out.print(f"post-check {check['name']}: {'ok' if check['ok'] else check['detail']}")
    if outcome.status not in ("deployed", "unchanged"):
        raise typer.Exit(1)


@config_app.command("changes")
def config_changes(
    config: ConfigOption = None,
    device: Annotated[str | None, typer.Option("--device", help="only this device")] = None,
    json_out: JsonOption = False,
) -> None:
    """Planned changes and their approvals, newest first."""
    from genosd.config.changes import list_changes

    _, _, db = _lifecycle(config, False)
    changes = list_changes(db, device=device)
    if json_out:
        print(json.dumps([c.model_dump() for c in changes], indent=2))
        return
    table = Table("id", "device", "status", "lines", "sha256", "planned by", "approved by")
    for c in changes:
        table.add_row(
            str(c.id),
            c.device,
            c.status,
            str(len(c.commands)),
            c.sha256[:12],
            c.created_by,
            c.approved_by or "",
        )
    out.print(table)
