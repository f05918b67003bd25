"""`genosd playbook check|run|schema`: playbook files checked, run now, the format exported."""

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
    with_core,
)
from genosd.errors import EX_CONFIG, InvalidRequestError, NotFoundError
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


@playbook_app.command("run")
def playbook_run(
    playbook: Annotated[str, typer.Argument(help="a playbook file, or a name in playbooks_dir")],
    config: ConfigOption = None,
    check: Annotated[bool, typer.Option("--check", help="report, change nothing")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE (repeatable)")] = None,
    json_out: JsonOption = False,
) -> None:
    """Run a playbook now over its targets (exit 1 when a host failed or the run stopped)."""
    from genosd.app.playbook_engine import finish_run
    from genosd.app.playbooks import begin, find_playbook, plugin_tasks
    from genosd.app.plugins import load_plugins

    variables: dict[str, str] = {}
    for item in var or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"bad --var {item!r}: use NAME=VALUE", 2)
        variables[name] = value
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
        with console.status(f"running {found.name} (run {record.id})…"):
            return await finish_run(core, found, record, tasks)

    try:
        record = with_core(snap, work)
    except InvalidRequestError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(record.summary())
    else:
        table = Table("batch", "step", "ok", "changed", "skipped", "failed")
        for step in record.steps:
            counts = {
                s: sorted(h for h, r in step.hosts.items() if r.status == s)
                for s in ("ok", "changed", "skipped", "failed")
            }
            table.add_row(
                str(step.batch + 1),
                step.step,
                *(str(len(counts[s])) for s in ("ok", "changed", "skipped")),
                ", ".join(counts["failed"]) or "0",
            )
        out().print(table)
        out().print(
            f"run {record.id}: {record.status}"
            + (f" ({record.stopped_because})" if record.stopped_because else "")
        )
    if record.status != "ok":
        raise typer.Exit(1)


@playbook_app.command("schema")
def playbook_schema() -> None:
    """The playbook format as JSON Schema (for editors: yaml-language-server)."""
    print(json.dumps(schema(), indent=2))
