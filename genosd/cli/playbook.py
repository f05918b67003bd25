"""`genosd playbook list|check|run|runs|show|approve|reject|cancel|resume|schema`.

`run` runs a playbook in this process with a progress display; a run that reaches an approval
gate is saved as waiting and the command ends (exit 3); `approve` (by someone else under
four-eyes) goes on with it here, in the daemon it goes on after POST /api/v1/runs/ID/approve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    console,
    fail,
    fail_config,
    out,
    print_json,
    snapshot,
    state_db,
    with_core,
)
from genosd.errors import (
    EX_CONFIG,
    ConflictError,
    GenosdError,
    InvalidRequestError,
    NotFoundError,
)
from genosd.playbooks.loader import PlaybookError, schema

playbook_app = typer.Typer(help="Playbooks: YAML workflows over devices", no_args_is_help=True)


@playbook_app.command("check")
def playbook_check(
    files: Annotated[list[Path], typer.Argument(help="playbook files")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check playbook files (format, actions, expressions, references); exit 78 if one is bad."""
    from genosd.app.playbooks import check_playbook

    snap = snapshot(config)

    async def check(core: Any) -> list[dict[str, Any]]:
        results = []
        for path in files:
            try:
                playbook = check_playbook(core, path)
            except PlaybookError as exc:
                results.append(
                    {"file": str(path), "ok": False, "problems": exc.problems or [str(exc)]}
                )
                continue
            results.append(
                {
                    "file": str(path),
                    "ok": True,
                    "name": playbook.name,
                    "steps": len(playbook.steps),
                    "schedule": playbook.schedule.cron if playbook.schedule else None,
                }
            )
        return results

    results = with_core(snap, check)
    if json_out:
        print_json(results)
    else:
        for result in results:
            if result["ok"]:
                out().print(f"{result['file']}: ok ({result['name']}, {result['steps']} steps)")
            else:
                console.print(f"[red]{result['file']}: invalid[/red]", markup=True)
                for problem in result["problems"]:
                    console.print(f"  - {problem}", markup=False)
    if not all(r["ok"] for r in results):
        raise typer.Exit(EX_CONFIG)


EXIT_WAITING = 3  # the run waits at an approval gate


def _variables(var: list[str] | None) -> dict[str, str]:
    variables: dict[str, str] = {}
    for item in var or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"bad --var {item!r}: use NAME=VALUE", 2)
        variables[name] = value
    return variables


async def _follow(core: Any, playbook: Any, record: Any, tasks: Any, json_out: bool) -> Any:
    """Go on with a run here, showing its progress on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from genosd.app.playbook_engine import finish_run

    if json_out:
        return await finish_run(core, playbook, record, tasks)
    total = sum(map(len, record.batches))
    done = sum(len(b) for b in record.batches[: record.cursor.batch])
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task(f"run {record.id}", total=total, completed=done)

        def show(event: Any) -> None:
            data = event.data
            if event.topic != "run" or data.get("run") != record.id:
                return
            if data["status"] == "step_finished":
                counts = ", ".join(f"{n} {s}" for s, n in sorted(data["hosts"].items()))
                progress.update(
                    bar,
                    description=f"run {record.id} · batch {data['batch'] + 1}/"
                    f"{len(record.batches)} · {data['step']} ({counts})",
                )
            elif data["status"] == "batch_finished":
                progress.advance(bar, len(record.batches[data["batch"]]))

        core.events.listeners.append(show)
        try:
            return await finish_run(core, playbook, record, tasks)
        finally:
            core.events.listeners.remove(show)


def _report(record: Any, json_out: bool) -> None:
    """Print how a run went; exit 3 when it waits at a gate, 1 when it did not end ok."""
    if json_out:
        print_json(record.summary())
    else:
        table = Table("batch", "step", "seconds", "ok", "changed", "skipped", "failed")
        for step in record.steps:
            counts = {
                s: sorted(h for h, r in step.hosts.items() if r.status == s)
                for s in ("ok", "changed", "skipped", "failed")
            }
            table.add_row(
                str(step.batch + 1),
                step.step,
                f"{step.duration:.1f}",
                *(str(len(counts[s])) for s in ("ok", "changed", "skipped")),
                ", ".join(counts["failed"]) or "0",
            )
        out().print(table)
        out().print(
            f"run {record.id}: {record.status}"
            + (f" ({record.stopped_because})" if record.stopped_because else "")
        )
        _print_gate(record)
    if record.status == "waiting_approval":
        raise typer.Exit(EXIT_WAITING)
    if record.status != "ok":
        raise typer.Exit(1)


@playbook_app.command("list")
def playbook_list(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """The playbooks of playbooks_dir (and what is wrong with invalid files; exit 78 if any)."""
    from genosd.app.playbooks import available, plugin_tasks
    from genosd.app.plugins import load_plugins

    snap = snapshot(config)

    async def work(core: Any) -> tuple[dict[str, Any], list[str]]:
        return available(core, plugin_tasks(load_plugins(core)))

    found, problems = with_core(snap, work)
    rows = [
        {
            "name": p.name,
            "description": p.description,
            "role": p.role,
            "schedule": f"{p.schedule.cron} ({p.schedule.timezone})" if p.schedule else None,
            "steps": len(p.steps),
        }
        for p in sorted(found.values(), key=lambda p: p.name)
    ]
    if json_out:
        print_json({"items": rows, "problems": problems})
    else:
        table = Table("name", "role", "schedule", "steps", "description")
        for row in rows:
            table.add_row(
                row["name"],
                row["role"],
                row["schedule"] or "",
                str(row["steps"]),
                row["description"],
            )
        out().print(table)
        for problem in problems:
            console.print(f"[red]invalid:[/red] {problem}", markup=True)
    if problems:
        raise typer.Exit(EX_CONFIG)


@playbook_app.command("run")
def playbook_run(
    playbook: Annotated[str, typer.Argument(help="a playbook file, or a name in playbooks_dir")],
    config: ConfigOption = None,
    check: Annotated[bool, typer.Option("--check", help="report, change nothing")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE (repeatable)")] = None,
    json_out: JsonOption = False,
) -> None:
    """Run a playbook now over its targets (exit 1 when a host failed or the run stopped, 3
    when it waits at an approval gate)."""
    from genosd.app.playbooks import begin, find_playbook, plugin_tasks
    from genosd.app.plugins import load_plugins

    variables = _variables(var)
    snap = snapshot(config)

    async def work(core: Any) -> Any:
        tasks = plugin_tasks(load_plugins(core))
        try:
            found = find_playbook(core, playbook, tasks)
        except PlaybookError as exc:
            fail_config(exc)
        except NotFoundError as exc:
            fail(str(exc), 2)
        record = await begin(core, found, tasks, actor=actor(), variables=variables, check=check)
        return await _follow(core, found, record, tasks, json_out)

    try:
        record = with_core(snap, work)
    except InvalidRequestError as exc:
        fail(str(exc), 2)
    _report(record, json_out)


RunArg = Annotated[int, typer.Argument(help="run id")]


def _decide(config: Path | None, run_id: int, json_out: bool, claim: Any) -> None:
    """Claim a run with `claim(core)` and go on with it here."""
    from genosd.app.playbook_records import playbook_of
    from genosd.app.playbooks import plugin_tasks
    from genosd.app.plugins import load_plugins

    snap = snapshot(config)

    async def work(core: Any) -> Any:
        record = await claim(core)
        tasks = plugin_tasks(load_plugins(core))
        return await _follow(core, playbook_of(record), record, tasks, json_out)

    try:
        record = with_core(snap, work)
    except GenosdError as exc:
        fail(str(exc), 1 if isinstance(exc, ConflictError) else 2)
    _report(record, json_out)


@playbook_app.command("approve")
def playbook_approve(
    run_id: RunArg,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="the gate's hash, as shown with its changes")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve the gate a run waits at (its changes, bound to --sha256) and go on with it here."""
    from genosd.app.playbook_gates import approve

    _decide(config, run_id, json_out, lambda core: approve(core, run_id, actor(), sha256))


@playbook_app.command("resume")
def playbook_resume(
    run_id: RunArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Go on with an interrupted run here, from where it stopped."""
    from genosd.app.playbook_gates import resume

    _decide(config, run_id, json_out, lambda core: resume(core, run_id, actor()))


@playbook_app.command("reject")
def playbook_reject(run_id: RunArg, config: ConfigOption = None) -> None:
    """Reject the gate a run waits at: its changes are rejected and the run ends."""
    from genosd.app.playbook_gates import reject

    _end(config, lambda core: reject(core, run_id, actor()))


@playbook_app.command("cancel")
def playbook_cancel(run_id: RunArg, config: ConfigOption = None) -> None:
    """Cancel a run: one at a gate ends now; one running stops before its next step."""
    from genosd.app.playbook_gates import cancel

    _end(config, lambda core: cancel(core, run_id, actor()))


def _end(config: Path | None, work: Any) -> None:
    try:
        record = with_core(snapshot(config), work)
    except GenosdError as exc:
        fail(str(exc), 1 if isinstance(exc, ConflictError) else 2)
    out().print(
        f"run {record.id}: "
        + (
            "cancelling (it stops before its next step)"
            if record.status == "running"
            else record.status
        )
    )


@playbook_app.command("runs")
def playbook_runs(
    playbook: Annotated[str, typer.Argument(help="playbook name")],
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
    json_out: JsonOption = False,
) -> None:
    """A playbook's runs, newest first."""
    from datetime import datetime

    from genosd.app.playbooks import list_runs

    db = state_db(config)
    try:
        rows = list_runs(db, playbook, limit)
    finally:
        db.close()
    if json_out:
        print_json(rows)
        return
    table = Table("id", "started", "actor", "check", "status")
    for row in rows:
        started = datetime.fromtimestamp(row["started_at"]).isoformat(timespec="seconds")
        table.add_row(str(row["id"]), started, row["actor"], str(row["check"]), row["status"])
    out().print(table)


@playbook_app.command("show")
def playbook_show(
    run_id: RunArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """One run: every step's per-host results, where it stopped, its gates."""
    from genosd.app.playbook_records import load_run

    db = state_db(config)
    try:
        record = load_run(db, run_id)
    except NotFoundError as exc:
        fail(str(exc), 2)
    finally:
        db.close()
    if json_out:
        print_json(record.summary())
        return
    table = Table("batch", "step", "host", "status", "detail")
    for step in record.steps:
        for host, result in sorted(step.hosts.items()):
            detail = result.error or ""
            if not detail and "diff" in result.data:
                detail = f"{len(result.data['diff'])} diff lines"
            table.add_row(str(step.batch + 1), step.step, host, result.status, detail)
    out().print(table)
    out().print(
        f"run {record.id} of {record.playbook} by {record.actor}: {record.status}"
        + (f" ({record.stopped_because})" if record.stopped_because else "")
    )
    _print_gate(record)


def _print_gate(record: Any) -> None:
    """The gate a run waits at: its message, each change's diff, how to approve."""
    gate = record.gate
    if gate is None:
        return
    out().print(f"waiting for approval ({gate.role}): {gate.message}")
    diffs = {
        host: result.data["diff"]
        for step in record.steps
        if step.batch == gate.batch and step.action == "plan"
        for host, result in step.hosts.items()
        if "diff" in result.data
    }
    for change in gate.changes:
        out().print(f"--- {change['device']}: change {change['change']}", markup=False)
        for line in diffs.get(change["device"], []):
            out().print(f"    {line}", markup=False, highlight=False)
    command = f"genosd playbook approve {record.id}"
    out().print(
        f"approve: {command} --sha256 {gate.sha256}" if gate.changes else f"approve: {command}"
    )


@playbook_app.command("schema")
def playbook_schema() -> None:
    """The playbook format as JSON Schema (for editors: yaml-language-server)."""
    print(json.dumps(schema(), indent=2))
