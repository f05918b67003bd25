"""`genosd inventory list|check|trust`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    FilterOption,
    JsonOption,
    LabOption,
    actor,
    console,
    fail,
    out,
    print_json,
    select,
    snapshot,
    with_core,
)
from genosd.cli.daemon import check_config

inventory_app = typer.Typer(
    help="Inspect the inventory and pin SSH host keys", no_args_is_help=True
)


@inventory_app.command("list")
def inventory_list(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """List devices."""
    devices = select(snapshot(config, lab), filter)
    rows: list[dict[str, Any]] = [
        {
            "name": d.name,
            "hostname": d.hostname,
            "platform": d.platform,
            "groups": list(d.groups),
            "tags": list(d.tags),
            "snmp": d.snmp.version if d.snmp else None,
            "ssh": d.ssh is not None,
        }
        for d in devices
    ]
    if json_out:
        print_json(rows)
        return
    table = Table("name", "hostname", "platform", "groups", "tags", "snmp", "ssh")
    for r in rows:
        table.add_row(
            r["name"],
            r["hostname"],
            r["platform"] or "",
            ",".join(r["groups"]),
            ",".join(r["tags"]),
            r["snmp"] or "-",
            "yes" if r["ssh"] else "-",
        )
    out().print(table)


@inventory_app.command("check")
def inventory_check(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Validate the inventory (same checks as check-config)."""
    check_config(config, lab)


@inventory_app.command("trust")
def inventory_trust(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="re-pin keys that changed")] = False,
    json_out: JsonOption = False,
) -> None:
    """Record (pin) the SSH host keys of the selected devices; every pin is audited."""
    from genosd.app.hostkeys import trust

    snap = snapshot(config, lab)
    devices = [d for d in select(snap, filter) if d.ssh is not None]
    if not devices:
        fail("no selected device has SSH settings (data.ssh.credential)", 2)
    results = with_core(snap, lambda core: trust(core, devices, replace=replace, actor=actor()))
    if json_out:
        print_json([vars(r) for r in results])
    for r in results if not json_out else []:
        if r.status == "failed":
            console.print(f"[red]{r.device}[/red]: {r.error}")
        elif r.status == "changed":
            console.print(
                f"[red]{r.device}[/red]: key CHANGED (now {r.fingerprint}); not replaced "
                "(use --replace if the device was really replaced)"
            )
        elif r.status == "already_pinned":
            console.print(f"{r.device}: already pinned ({r.fingerprint})")
        else:
            console.print(f"{r.device}: {r.status} {r.key_type} {r.fingerprint}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
