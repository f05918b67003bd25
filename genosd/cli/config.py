"""`genosd config …`: backups and their history, intended configs, plans, approvals and deploys.

Each command calls the same workflow as the API (genosd.app.backups, genosd.app.changes), so a
backup or deploy from here has the same guards, compliance records, events and audit entries.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    DeviceArg,
    FilterOption,
    JsonOption,
    LabOption,
    actor,
    console,
    fail,
    fail_config,
    out,
    print_json,
    select,
    settings_only,
    snapshot,
    with_core,
)
from genosd.errors import ConfigError, GenosdError

config_app = typer.Typer(
    help="Device configurations: backup, history, render, validate, deploy", no_args_is_help=True
)


def _history(config: Any) -> Any:
    from genosd.config.history import ConfigHistory, history_path

    return ConfigHistory(history_path(settings_only(config).state_dir))


@config_app.command("backup")
def config_backup(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """Back up the running config of every selected SSH device into the git history."""
    from genosd.app.backups import run_backup

    snap = snapshot(config, lab)
    devices = [d for d in select(snap, filter) if d.ssh]
    if not devices:
        fail("no selected device has SSH settings (data.ssh.credential)", 2)
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"backing up {len(devices)} devices", total=None)
        try:
            results = with_core(snap, lambda core: run_backup(core, devices, actor()))
        except ConfigError as exc:
            fail_config(exc)
    if json_out:
        print_json([dataclasses.asdict(r) for r in results])
    else:
        table = Table("device", "result", "version", "lines", "masked", "error")
        for r in results:
            outcome = "changed" if r.changed else ("ok" if r.ok else "[red]failed[/red]")
            table.add_row(
                r.device,
                outcome,
                (r.version or "")[:10],
                str(r.lines or ""),
                str(r.masked or ""),
                r.error or "",
            )
        out().print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@config_app.command("versions")
def config_versions(
    device: DeviceArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Stored versions of a device's config, newest first."""
    versions = _history(config).versions(device)
    if json_out:
        print_json([dataclasses.asdict(v) for v in versions])
        return
    if not versions:
        fail(f"no stored config for {device}", 1)
    table = Table("version", "time", "author", "message")
    for v in versions:
        when = datetime.fromtimestamp(v.time, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        table.add_row(v.id[:10], when, v.author, v.message)
    out().print(table)


@config_app.command("show")
def config_show(
    device: DeviceArg,
    version: Annotated[str, typer.Argument()] = "",
    config: ConfigOption = None,
) -> None:
    """A device's stored config (the newest, or VERSION)."""
    history = _history(config)
    try:
        text = history.show(device, version) if version else history.current(device)
    except GenosdError as exc:
        fail(str(exc))
    if text is None:
        fail(f"no stored config for {device}")
    sys.stdout.write(text)


history_app = typer.Typer(help="The config history as a whole", no_args_is_help=True)
config_app.add_typer(history_app, name="history")


@history_app.command("scrub")
def config_history_scrub(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only count the clear-text secrets")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Rewrite the whole config history with every secret masked (after an upgrade).

    Versions stored before a secret form was masked keep it in clear in git; this rebuilds every
    commit with today's masking (authors, times, messages kept) and deletes the old objects.
    Clones and remotes of the history still hold the old one: replace them (force-push).
    """
    from genosd.app.backups import scrub_history

    snap = snapshot(config)
    with Progress(console=console, transient=True) as progress:
        progress.add_task("scrubbing the config history", total=None)
        try:
            report = with_core(snap, lambda core: scrub_history(core, actor(), dry_run=dry_run))
        except ConfigError as exc:
            fail_config(exc)
    if json_out:
        print_json(dataclasses.asdict(report))
        return
    verb = "would mask" if dry_run else "masked"
    out().print(
        f"{report.commits} commits read; {verb} {report.secrets} secrets in {report.files} "
        f"stored versions of {len(report.devices)} devices ({report.seconds:.1f} s)"
    )
    if report.devices:
        out().print("devices: " + ", ".join(report.devices))


@config_app.command("diff")
def config_diff(
    device: DeviceArg,
    old: Annotated[str, typer.Argument(help="version")],
    new: Annotated[str, typer.Argument(help="version (default: newest)")] = "",
    config: ConfigOption = None,
) -> None:
    """Unified diff of a device's config between two stored versions."""
    try:
        sys.stdout.write(_history(config).diff(device, old, new or None))
    except GenosdError as exc:
        fail(str(exc))


@config_app.command("render")
def config_render(
    device: DeviceArg,
    config: ConfigOption = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="print secrets instead of <secret:…> tokens")
    ] = False,
) -> None:
    """Print a device's intended config rendered from its templates (secrets masked)."""
    from genosd.app.lifecycle import Lifecycle
    from genosd.config.history import ConfigHistory, history_path
    from genosd.ssh.hostkeys import KnownHosts, known_hosts_path

    snap = snapshot(config)
    state_dir = snap.settings.state_dir
    lifecycle = Lifecycle(
        snap.settings,
        snap.inventory,
        KnownHosts(known_hosts_path(state_dir)),
        ConfigHistory(history_path(state_dir)),
    )
    try:
        target = snap.inventory.device(device)
        rendered = lifecycle.render(target)
        text = rendered.text if show_secrets else lifecycle.shown(target, rendered.text)
    except ConfigError as exc:
        fail_config(exc)
    except GenosdError as exc:
        fail(str(exc))
    sys.stdout.write(text)


def _findings_table(findings: list[Any]) -> Table:
    table = Table("severity", "layer", "rule", "line", "message", title="findings")
    for f in sorted(findings, key=lambda f: -f.level):
        colour = {"critical": "red", "major": "yellow"}.get(f.severity, "")
        severity = f"[{colour}]{f.severity}[/{colour}]" if colour else f.severity
        table.add_row(severity, f.layer, f.rule, str(f.line or ""), f.message)
    return table


@config_app.command("report")
def config_report(
    config: ConfigOption = None,
    filter: FilterOption = None,
    fmt: Annotated[str, typer.Option("--format", help="json, csv or html")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file (default: stdout)")
    ] = None,
) -> None:
    """The fleet's compliance: scores, findings by severity and rule, newly failing since the
    previous backup, score history; as JSON, CSV or HTML."""
    from genosd.app.compliance import fleet_report
    from genosd.config.report import report_csv, report_html

    if fmt not in ("json", "csv", "html"):
        fail("--format must be json, csv or html", 2)
    snap = snapshot(config)
    names = [d.name for d in select(snap, filter) if d.platform]
    report = with_core(snap, lambda core: fleet_report(core, names))
    if fmt == "csv":
        text = report_csv(report)
    elif fmt == "html":
        text = report_html(report)
    else:
        text = report.model_dump_json(indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"{output}: {report.checked} of {report.devices} devices")


@config_app.command("validate")
def config_validate(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="add the LLM review")] = True,
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="check config files instead (any device's; repeat for several): "
            "compliance rules and hardening baselines",
        ),
    ] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="the files' platform (default: detected)")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, json or sarif (with --file)")
    ] = "text",
) -> None:
    """Render and validate the selected devices' intended configs, or check config files (--file);
    exit 1 on critical findings."""
    from genosd.app import changes

    if files:
        _validate_files(config, files, platform, "json" if json_out else fmt)
        return
    snap = snapshot(config, lab)
    devices = [d for d in select(snap, filter) if d.platform]
    if not devices:
        fail("no selected device has a platform", 2)
    try:
        found, template_errors = with_core(
            snap, lambda core: _validated(core, changes, devices, llm)
        )
    except ConfigError as exc:  # a rule file
        fail_config(exc)
    reports = [
        {
            "device": i.device.name,
            "score": i.report.score,
            "llm": i.report.llm,
            "llm_prompt": i.report.llm_prompt,
            "notes": i.report.notes,
            "blocking": len(i.report.blocking),
            "findings": [f.model_dump() for f in i.report.findings],
        }
        for i in found
    ]
    if json_out:
        errors = [str(e) for e in template_errors]
        print_json({"devices": reports, "template_errors": errors})
    else:
        console_out = out()
        for i in found:
            report = i.report
            console_out.print(
                f"[bold]{i.device.name}[/bold]: score {report.score:g}%  "
                f"({report.rules_passed}/{report.rules_applied} rules), LLM {report.llm}"
                + (f" ({report.llm_prompt})" if report.llm_prompt else "")
            )
            for note in report.notes:
                console_out.print(f"  note: {note}")
            if report.findings:
                console_out.print(_findings_table(report.findings))
    for error in template_errors:
        console.print(f"[red]template error:[/red] {error}")
    if template_errors:
        raise typer.Exit(78)
    if any(r["blocking"] for r in reports):
        raise typer.Exit(1)


def _validate_files(config: Any, files: list[Path], platform: str | None, fmt: str) -> None:
    """`config validate --file`: each file checked, reported as text, JSON or SARIF; nothing is
    written (no state directory is needed)."""
    from genosd import __version__
    from genosd.app.lifecycle import baseline_paths, load_rule_set, validate_file
    from genosd.config.rules import load_rules
    from genosd.config.sarif import sarif_report

    if fmt not in ("text", "json", "sarif"):
        fail("--format must be text, json or sarif", 2)
    configs = settings_only(config).configs
    reports = []
    try:
        rules, baselines = load_rule_set(configs), load_rules(baseline_paths(configs))
        for path in files:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                fail(f"{path}: {exc.strerror or exc}", 2)
            reports.append((path, validate_file(rules, baselines, text, path.name, platform)))
    except ConfigError as exc:
        fail_config(exc)
    except GenosdError as exc:
        fail(str(exc), 2)
    if fmt == "sarif":
        results = [(str(path), found.report.findings) for path, found in reports]
        print_json(sarif_report(results, [*baselines.rules, *rules.rules], __version__))
    elif fmt == "json":
        print_json([_file_json(path, found) for path, found in reports])
    else:
        for path, found in reports:
            report = found.report
            how = "detected" if found.detected else "given"
            out().print(
                f"[bold]{path}[/bold] ({found.platform}, {how}): score {report.score:g}% "
                f"({report.rules_passed}/{report.rules_applied} rules)"
            )
            if report.findings:
                out().print(_findings_table(report.findings))
    if any(found.report.blocking for _, found in reports):
        raise typer.Exit(1)


def _file_json(path: Path, found: Any) -> dict[str, Any]:
    report = found.report
    return {
        "file": str(path),
        "platform": found.platform,
        "platform_detected": found.detected,
        "converted_to_set": found.converted,
        "score": report.score,
        "rules_applied": report.rules_applied,
        "rules_passed": report.rules_passed,
        "findings": [f.model_dump() for f in report.findings],
    }


async def _validated(core: Any, changes: Any, devices: list[Any], llm: bool) -> Any:
    core.lifecycle.rules  # noqa: B018 - load the rule files first: a bad one is a config error
    return await changes.validate(core, devices, llm=llm)


def _print_plan(result: Any) -> None:
    console_out = out()
    plan = result.plan
    console_out.print(f"[bold]{plan.device}[/bold]: {len(plan.commands)} line(s) to send")
    for line in plan.diff[2:]:  # skip the ---/+++ header
        colour = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        console_out.print(f"[{colour}]{line}[/{colour}]", markup=True)
    if result.report and result.report.findings:
        console_out.print(_findings_table(result.report.findings))


def _report_plan(result: Any, kind: str, source: str | None, json_out: bool) -> None:
    """Print a dry run (exit 1 on a device failure or a critical finding)."""
    plan, report, change = result.plan, result.report, result.change
    if plan.error is not None:
        if json_out:
            print_json({"device": plan.device, "error": plan.error})
        fail(plan.error)
    if json_out:
        print_json(
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
                "llm_prompt": report.llm_prompt,
                "findings": [f.model_dump() for f in report.findings],
            }
        )
    else:
        _print_plan(result)
        if change is None:
            target = f"version {source}" if source else "its intended config"
            out().print(f"{plan.device} already matches {target}; nothing to deploy")
        elif report.blocking:
            out().print(
                f"[red]change {change.id} has critical findings and cannot be approved[/red]"
            )
        else:
            out().print(
                f"dry run: nothing sent. change {change.id}, sha256 {plan.sha256}\n"
                f"to deploy exactly this diff: genosd config deploy {plan.device} "
                f"--approve {change.id}"
            )
    if report.blocking:
        raise typer.Exit(1)


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
    from genosd.app import changes

    snap = snapshot(config, lab)
    try:
        snap.inventory.device(device)
    except GenosdError as exc:
        fail(str(exc), 2)
    if approve is None:
        with Progress(console=console, transient=True) as progress:
            progress.add_task(f"planning {device}", total=None)
            try:
                result = with_core(snap, lambda core: changes.plan(core, device, actor()))
            except ConfigError as exc:
                fail_config(exc)
            except GenosdError as exc:
                fail(str(exc), 2)
        _report_plan(result, "render", None, json_out)
    else:
        _deploy(snap, device, approve, json_out)


async def _approve_and_deploy(core: Any, device: str, change_id: int) -> Any:
    from genosd.app import changes
    from genosd.config.changes import get_change

    change = await core.db.run(get_change, change_id)
    if change.status == "pending":
        # running --approve after reading the dry run's diff is the approval of that diff
        await changes.approve(core, change_id, change.sha256, actor())
    return await changes.deploy(core, change_id, actor(), device=device)


def _deploy(snap: Any, device: str, change_id: int, json_out: bool) -> None:
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"deploying change {change_id} to {device}", total=None)
        try:
            result = with_core(snap, lambda core: _approve_and_deploy(core, device, change_id))
        except GenosdError as exc:
            fail(str(exc))
    outcome = result.outcome
    if json_out:
        print_json(
            {
                **outcome.as_dict(),
                "change": change_id,
                "backup": dataclasses.asdict(result.backup) if result.backup else None,
            }
        )
    else:
        console_out = out()
        colour = "green" if outcome.status in ("deployed", "unchanged") else "red"
        console_out.print(
            f"[{colour}]{device}: {outcome.status}[/{colour}]"
            + (f": {outcome.reason}" if outcome.reason else "")
        )
        if outcome.rollback:
            console_out.print(f"rollback: {outcome.rollback}")
        for check in outcome.post_checks:
            console_out.print(
                f"post-check {check['name']}: {'ok' if check['ok'] else check['detail']}"
            )
    if outcome.status not in ("deployed", "unchanged"):
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
    from genosd.app import changes

    snap = snapshot(config, lab)
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"planning the restore of {device} to {version}", total=None)
        try:
            result = with_core(
                snap, lambda core: changes.plan_restore(core, device, version, actor())
            )
        except GenosdError as exc:
            fail(str(exc), 2)
    _report_plan(result, "restore", version, json_out)


@config_app.command("changes")
def config_changes(
    config: ConfigOption = None,
    device: Annotated[str | None, typer.Option("--device", help="only this device")] = None,
    json_out: JsonOption = False,
) -> None:
    """Planned changes and their approvals, newest first."""
    from genosd.config.changes import list_changes
    from genosd.statedb import connect, state_db_path

    db = connect(state_db_path(settings_only(config).state_dir))
    found = list_changes(db, device=device)
    if json_out:
        print_json([c.model_dump() for c in found])
        return
    table = Table("id", "device", "status", "lines", "sha256", "planned by", "approved by")
    for c in found:
        table.add_row(
            str(c.id),
            c.device,
            c.status,
            str(len(c.commands)),
            c.sha256[:12],
            c.created_by,
            c.approved_by or "",
        )
    out().print(table)
