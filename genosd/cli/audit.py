"""`genosd audit export|verify`: the audit log, straight on the state database."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Literal

import typer

from genosd import audit
from genosd.cli.common import ConfigOption, console, fail, state_db

audit_app = typer.Typer(help="The audit log", no_args_is_help=True)


@audit_app.command("export")
def audit_export(
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    since_hours: Annotated[
        float | None, typer.Option("--since-hours", help="only the last N hours")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    action: Annotated[str | None, typer.Option("--action")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the audit log (oldest first) to stdout as JSON or CSV."""
    if fmt not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    since = time.time() - since_hours * 3600 if since_hours else None
    query = audit.AuditQuery(actor=actor, action=action, since=since)
    output_format: Literal["json", "csv"] = "csv" if fmt == "csv" else "json"
    db = state_db(config)
    sys.stdout.write(audit.export(db, query, output_format))
    anchored = audit.head(db)
    if anchored:  # keep it with the export: it shows later whether newest entries went missing
        console.print(f"audit head: {anchored}")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the audit log's hash chain and head; exit 1 naming what was edited or removed."""
    problems = audit.verify(state_db(config))
    if problems:
        fail("; ".join(problems))
    console.print("audit log chain intact, head anchored")
