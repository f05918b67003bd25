"""`genosd waivers add|list|revoke`: accepted exceptions to compliance rules, through the same
workflows as the API (genosd.app.compliance), audited with the local user as actor."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

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
    with_core,
)
from genosd.errors import ConfigError, GenosdError

waivers_app = typer.Typer(
    help="Compliance waivers: a rule's findings accepted for a device, a group or all, for a time",
    no_args_is_help=True,
)


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@waivers_app.command("add")
def waivers_add(
    rule: Annotated[str, typer.Option("--rule", help="the rule id")],
    reason: Annotated[str, typer.Option("--reason", help="why the finding is accepted")],
    owner: Annotated[str, typer.Option("--owner", help="who answers for the exception")],
    days: Annotated[float, typer.Option("--days", help="expires after N days (at most 366)")],
    device: Annotated[str | None, typer.Option("--device", help="one device")] = None,
    group: Annotated[str | None, typer.Option("--group", help="a group's devices")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Accept a rule's findings on a device, a group or (neither given) every device."""
    from genosd.app.compliance import accept_finding
    from genosd.config.waivers import WaiverRequest

    snap = snapshot(config)
    try:
        request = WaiverRequest(
            rule=rule,
            device=device,
            group=group,
            reason=reason,
            owner=owner,
            expires_at=time.time() + days * 86400,
        )
        who = actor()
        waiver = with_core(snap, lambda core: accept_finding(core, request, who))
    except ConfigError as exc:
        fail_config(exc)
    except ValidationError as exc:
        fail_invalid(exc)
    except GenosdError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(waiver.model_dump(mode="json"))
        return
    console.print(f"waiver {waiver.id}: {waiver.rule} until {_when(waiver.expires_at)}")


@waivers_app.command("list")
def waivers_list(
    all_: Annotated[bool, typer.Option("--all", help="expired and revoked ones too")] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Waivers, newest first (only those in force unless --all)."""
    from genosd.app.compliance import waivers as waivers_of

    waivers = with_core(snapshot(config), lambda core: waivers_of(core, active_only=not all_))
    if json_out:
        print_json([w.model_dump(mode="json") for w in waivers])
        return
    table = Table("id", "rule", "scope", "owner", "expires", "state", "reason")
    now = time.time()
    for w in waivers:
        scope = f"device {w.device}" if w.device else f"group {w.group}" if w.group else "all"
        state = "revoked" if w.revoked_at else "in force" if w.active(now) else "expired"
        table.add_row(str(w.id), w.rule, scope, w.owner, _when(w.expires_at), state, w.reason)
    out().print(table)


@waivers_app.command("revoke")
def waivers_revoke(
    waiver_id: Annotated[int, typer.Argument(help="the waiver's id")],
    config: ConfigOption = None,
) -> None:
    """End a waiver now."""
    from genosd.app.compliance import end_waiver

    who = actor()
    try:
        waiver = with_core(snapshot(config), lambda core: end_waiver(core, waiver_id, who))
    except GenosdError as exc:
        fail(str(exc), 1)
    console.print(f"waiver {waiver.id} revoked")
