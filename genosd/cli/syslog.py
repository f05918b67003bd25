"""`genosd syslog show`: received syslog messages, straight from the state database."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from genosd.app.syslog_store import list_messages
from genosd.cli.common import ConfigOption, fail, out, print_json, state_db
from genosd.syslog.message import SEVERITIES

syslog_app = typer.Typer(help="Received syslog messages", no_args_is_help=True)


@syslog_app.command("show")
def syslog_show(
    device: Annotated[str | None, typer.Option("--device", help="one device's messages")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="this severity or worse (err, warning, …)")
    ] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="a structured event kind, or `any`")
    ] = None,
    grep: Annotated[str | None, typer.Option("--grep", help="text the message contains")] = None,
    since_hours: Annotated[
        float | None, typer.Option("--since-hours", help="only the last N hours")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """The newest messages first, filtered."""
    if severity is not None and severity not in SEVERITIES:
        fail(f"--severity must be one of {', '.join(SEVERITIES)}", 2)
    rows = list_messages(
        state_db(config),
        device=device,
        since=time.time() - since_hours * 3600 if since_hours else None,
        severity=SEVERITIES.index(severity) if severity else None,
        event=event,
        text=grep,
        limit=limit,
    )
    if as_json:
        print_json(rows)
        return
    table = Table("received", "device", "severity", "event", "message")
    for row in rows:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["received_at"])),
            row["device"] or row["hostname"] or row["source"],
            row["severity"],
            row["event"]["kind"] if row["event"] else "",
            row["message"],
        )
    out().print(table)
