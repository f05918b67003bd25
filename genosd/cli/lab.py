"""`genosd lab up|down|status|link`: simulated devices on 127.0.0.1 (the `genosd[lab]` extra)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from genosd.cli.common import ConfigOption, JsonOption, console, fail, lab_for, stop_lab

lab_app = typer.Typer(help="Simulated devices on 127.0.0.1", no_args_is_help=True)


def _ssh_ports(state: Any) -> str:
    ports = ", ".join(f"{name} tcp {port}" for name, port in sorted(state.ssh_ports.items()))
    return f"SSH devices (pid {state.ssh_pid}): {ports}"


@lab_app.command("up")
def lab_up(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Start the simulated devices; their inventory goes to <state_dir>/lab/inventory."""
    lab = lab_for(config)
    with console.status("starting the lab (the first start indexes the recordings)…"):
        state = lab.start()
    if json_out:
        print(json.dumps(vars(state)))
        return
    console.print(
        f"lab up: snmpsim pid {state.pid} on udp 127.0.0.1:{state.snmp_port}; "
        f"inventory in {state.inventory_dir}"
    )
    console.print(_ssh_ports(state))


@lab_app.command("down")
def lab_down(config: ConfigOption = None) -> None:
    """Stop the simulated devices."""
    console.print("lab stopped" if stop_lab(config) else "lab was not running")


@lab_app.command("status")
def lab_status(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Is the lab running, and where (exit 3 when it is not)."""
    state = lab_for(config).status()
    if json_out:
        print(json.dumps(vars(state) if state else None))
    elif state is None:
        console.print("lab is not running")
    else:
        console.print(f"lab running: snmpsim pid {state.pid} on udp 127.0.0.1:{state.snmp_port}")
        console.print(_ssh_ports(state))
    if state is None:
        raise typer.Exit(3)


@lab_app.command("link")
def lab_link(
    device: Annotated[str, typer.Argument(help="a lab SNMP device, e.g. lab-ios-sw1")],
    interface: Annotated[str, typer.Argument(help="its ifName, ifDescr or ifIndex")],
    state: Annotated[str, typer.Argument(help="up or down")],
    config: ConfigOption = None,
) -> None:
    """Take a lab device's interface down (the far end went away) or up again: polls see its
    ifOperStatus change, alert rules fire and resolve."""
    from genosd.lab.snmp import set_link

    if state not in ("up", "down"):
        fail("the state is up or down", 2)
    recording = lab_for(config).root / "data" / f"{device}.snmprec"
    if not recording.is_file():
        fail(f"no lab SNMP device {device!r} (is the lab up?)", 2)
    try:
        index = set_link(recording, interface, state == "up")
    except ValueError as exc:
        fail(str(exc), 2)
    console.print(f"{device} {interface} (ifIndex {index}) is {state}")
