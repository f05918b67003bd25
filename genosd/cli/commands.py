"""`genosd commands`: the command history, straight from the state database."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from genosd.app.command_history import CommandQuery, search
from genosd.cli.common import ConfigOption, out, print_json, state_db


def commands(
    device: Annotated[str | None, typer.Option("--device", help="one device's commands")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="backup, facts, deploy, playbook NAME, …")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="who asked")] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", help="text in the command, its output or error")
    ] = None,
    since_hours: Annotated[
        float | None, typer.Option("--since-hours", help="only the last N hours")
    ] = None,
    output: Annotated[bool, typer.Option("--output", help="print each output too")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (with outputs)")] = False,
    config: ConfigOption = None,
) -> None:
    """Every command genosd sent to a device, newest first: who asked, why, and what came back
    (secrets masked)."""
    rows = search(
        state_db(config),
        CommandQuery(
            device=device,
            since=time.time() - since_hours * 3600 if since_hours else None,
            text=grep,
            reason=reason,
            actor=actor,
            limit=limit,
            with_output=as_json or output,
        ),
    )
    if as_json:
        print_json(rows)
        return
    table = Table("sent", "device", "command", "ok", "s", "actor", "why")
    for row in rows:
        command = (
            row["command"] if "\n" not in row["command"] else row["command"].split("\n")[0] + " …"
        )
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["at"])),
            row["device"],
            command,
            "yes" if row["ok"] else f"no: {row['error']}",
            f"{row['duration']:.2f}",
            row["actor"],
            row["reason"] + (f" ({row['ref']})" if row["ref"] else ""),
        )
    console = out()
    console.print(table)
    if output:
        for row in reversed(rows):
            console.rule(f"{row['device']}: {row['command'].splitlines()[0]}")
            console.print(row["output"], markup=False, highlight=False)
