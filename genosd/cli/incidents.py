"""`genosd incidents …` and `genosd silences …`: the same workflows as the API
(genosd.app.alerting.IncidentDesk), audited with the local user as actor; notifications for what
is done here are queued and sent by the running daemon."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from genosd.alerts.rules import seconds
from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    console,
    fail,
    fail_config,
    fail_invalid,
    out,
    print_json,
    snapshot,
    state_db,
    with_core,
)
from genosd.errors import ConfigError, GenosdError

incidents_app = typer.Typer(help="Incidents opened by alerts", no_args_is_help=True)
silences_app = typer.Typer(help="Silences and maintenance windows", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _act(config: Any, work: Any) -> Any:
    from genosd.app.alerting import IncidentDesk

    snap = snapshot(config)
    try:
        return with_core(snap, lambda core: work(IncidentDesk(core, None)))
    except ConfigError as exc:
        fail_config(exc)
    except ValidationError as exc:
        fail_invalid(exc)
    except GenosdError as exc:
        fail(str(exc), 2)


@incidents_app.command("list")
def incidents_list(
    status: Annotated[
        str | None, typer.Option("--status", help="open, acknowledged, resolved or active")
    ] = "active",
    device: Annotated[str | None, typer.Option("--device")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Incidents, newest first (active ones unless --status says otherwise)."""
    from genosd.app.incidents import list_incidents

    if status not in (None, "open", "acknowledged", "resolved", "active", "all"):
        fail("--status must be open, acknowledged, resolved, active or all", 2)
    rows = list_incidents(
        state_db(config), status=None if status == "all" else status, device=device, limit=limit
    )
    if json_out:
        print_json(rows)
        return
    table = Table("id", "opened", "severity", "status", "title")
    for row in rows:
        table.add_row(
            str(row["id"]), _when(row["opened_at"]), row["severity"], row["status"], row["title"]
        )
    out().print(table)


@incidents_app.command("show")
def incidents_show(
    incident: Annotated[int, typer.Argument(help="the incident's id")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """One incident: its alerts and timeline."""
    from genosd.app.incidents import get_incident

    try:
        found = get_incident(state_db(config), incident)
    except GenosdError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(found)
        return
    out().print(f"incident {found['id']} [{found['severity']}] {found['status']}: {found['title']}")
    for alert in found["alerts"]:
        state = "resolved" if alert["resolved_at"] else "firing"
        out().print(f"  alert {alert['id']} {alert['rule']} ({state}): {alert['summary']}")
    for entry in found["timeline"]:
        who = f" by {entry['actor']}" if entry["actor"] else ""
        out().print(
            f"  {_when(entry['at'])} {entry['kind']}{who} {entry['data'].get('note') or ''}"
        )


@incidents_app.command("ack")
def incidents_ack(
    incident: Annotated[int, typer.Argument(help="the incident's id")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an open incident."""
    who = actor()
    found = _act(config, lambda desk: desk.acknowledge(incident, who, note))
    console.print(f"incident {found['id']} acknowledged by {who}")


@incidents_app.command("resolve")
def incidents_resolve(
    incident: Annotated[int, typer.Argument(help="the incident's id")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    config: ConfigOption = None,
) -> None:
    """Resolve an incident by hand."""
    who = actor()
    found = _act(config, lambda desk: desk.resolve(incident, who, note))
    console.print(f"incident {found['id']} resolved by {who}")


@incidents_app.command("note")
def incidents_note(
    incident: Annotated[int, typer.Argument(help="the incident's id")],
    text: Annotated[str, typer.Argument(help="the note")],
    config: ConfigOption = None,
) -> None:
    """Add a note to an incident's timeline."""
    who = actor()
    _act(config, lambda desk: desk.note(incident, who, text))
    console.print(f"noted on incident {incident}")


@silences_app.command("add")
def silences_add(
    match: Annotated[
        list[str], typer.Option("--match", help="label=glob (device=sw*, alertname=cpu_high …)")
    ],
    duration: Annotated[str, typer.Option("--for", help="how long: 30m, 2h, 1d")],
    comment: Annotated[str, typer.Option("--comment", help="why")],
    cron: Annotated[
        str | None, typer.Option("--cron", help="a recurring maintenance window's starts (UTC)")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="how long each recurring window lasts")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Silence matching alerts now for a while, or add a recurring maintenance window
    (--cron '0 2 * * 0' --window 2h --for 90d)."""
    from genosd.alerts.silences import SilenceSpec

    matchers = dict(m.split("=", 1) for m in match if "=" in m)
    if len(matchers) != len(match):
        fail("--match takes label=glob", 2)
    length, each = seconds(duration), seconds(window) if window else None
    if not isinstance(length, float) or (window and not isinstance(each, float)):
        fail("--for and --window take durations such as 30m, 2h, 1d", 2)
    try:
        spec = SilenceSpec(
            kind="maintenance" if cron else "silence",
            matchers=matchers,
            ends_at=time.time() + length,
            cron=cron,
            duration=each,
            comment=comment,
        )
    except ValidationError as exc:
        fail_invalid(exc)
    who = actor()
    silence = _act(config, lambda desk: desk.silence(spec, who))
    if json_out:
        print_json(silence.model_dump(mode="json"))
        return
    console.print(f"{silence.kind} {silence.id} until {_when(silence.ends_at)}")


@silences_app.command("list")
def silences_list(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Silences and maintenance windows not ended."""
    from genosd.app.incidents import list_silences

    found = list_silences(state_db(config))
    if json_out:
        print_json([s.model_dump(mode="json") for s in found])
        return
    table = Table("id", "kind", "matchers", "until", "by", "comment")
    for s in found:
        matchers = ", ".join(f"{k}={v}" for k, v in s.matchers.items())
        table.add_row(str(s.id), s.kind, matchers, _when(s.ends_at), s.created_by, s.comment)
    out().print(table)


@silences_app.command("end")
def silences_end(
    silence: Annotated[int, typer.Argument(help="the silence's id")],
    config: ConfigOption = None,
) -> None:
    """End a silence or maintenance window now."""
    who = actor()
    _act(config, lambda desk: desk.end_silence(silence, who))
    console.print(f"silence {silence} ended")
