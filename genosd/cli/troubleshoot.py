"""`genosd diagnose|path|lookup`: troubleshooting from the command line, through the same
workflows as the API and the assistant (genosd.app.troubleshoot)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    console,
    fail,
    out,
    print_json,
    with_history,
)

_COLOUR = {"critical": "red", "warning": "yellow", "info": "cyan"}


def diagnose(
    device: Annotated[str, typer.Argument(help="the device")],
    minutes: Annotated[float, typer.Option("--minutes", help="poll history looked at")] = 60,
    routing: Annotated[
        bool, typer.Option("--routing", help="also read BGP/OSPF neighbours over SSH")
    ] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Explain what is wrong with a device: interface errors, duplex/speed mismatches with its
    neighbours, flaps, lost neighbours (and BGP/OSPF with --routing)."""
    from genosd.app import troubleshoot

    who = actor()
    found = with_history(
        config,
        lambda core: troubleshoot.diagnose(
            core, device, minutes=minutes, routing_state=routing, actor=who
        ),
    )
    if json_out:
        print_json(found)
    elif not found["findings"]:
        console.print(f"{found['device']}: nothing found")
    for finding in [] if json_out else found["findings"]:
        colour = _COLOUR[finding["severity"]]
        console.print(
            f"[{colour}]{finding['severity']}[/] {finding['subject']}: {finding['summary']}",
            highlight=False,
        )
        console.print(f"    → {finding['advice']}", highlight=False, markup=False)
    for note in [] if json_out else found["notes"]:
        console.print(f"[dim]note: {note}[/]")
    if any(f["severity"] == "critical" for f in found["findings"]):
        raise typer.Exit(1)


def path(
    source: Annotated[str, typer.Argument(help="from this device")],
    target: Annotated[str, typer.Argument(help="to this device")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """The path between two devices over the LLDP/CDP graph, with each hop's state."""
    from genosd.app import troubleshoot

    found = with_history(config, lambda core: troubleshoot.path(core, source, target))
    if json_out:
        print_json(found)
        return
    if not found["found"]:
        fail(f"no path from {source} to {target} in the LLDP/CDP graph", 1)
    table = Table("from", "out", "to", "in", "state", "util out %", "util in %")
    for hop in found["hops"]:
        table.add_row(
            hop["from"],
            hop["from_interface"],
            hop["to"],
            hop["to_interface"],
            hop["state"],
            "" if hop["out_utilization"] is None else f"{hop['out_utilization']:.1f}",
            "" if hop["in_utilization"] is None else f"{hop['in_utilization']:.1f}",
        )
    out().print(table)
    if found["through_down_link"]:
        console.print("[red]the only path goes through a link that is down[/]")


def lookup(
    device: Annotated[str, typer.Argument(help="run it from this device")],
    kind: Annotated[
        str, typer.Argument(help="ping, traceroute, arp, mac, route, counters, bgp, ospf")
    ],
    target: Annotated[str | None, typer.Argument(help="address, MAC, prefix or interface")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a read-only lookup from a device (kept in the command history)."""
    from genosd.app import troubleshoot
    from genosd.troubleshoot.lookups import KINDS

    if kind not in KINDS:
        fail(f"unknown lookup {kind!r}; known: {', '.join(KINDS)}", 2)
    who = actor()
    found = with_history(config, lambda core: troubleshoot.lookup(core, device, kind, target, who))
    if json_out:
        print_json(found)
        return
    console.rule(f"{found['device']}: {found['command']}")
    console.print(found["output"], markup=False, highlight=False)
    if found.get("summary"):
        console.print(found["summary"])
