"""The `genosd` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from genosd import cli_lifecycle  # noqa: F401 - registers config render|validate|deploy|changes
from genosd.cli_admin import audit_app, keys_app
from genosd.cli_config import config_app, inventory_trust
from genosd.cli_facts import facts_command
from genosd.cli_options import (
    ConfigOption,
    FilterOption,
    JsonOption,
    LabOption,
    console,
    fail_config,
)
from genosd.cli_settings import settings_app
from genosd.errors import ConfigError, GenosdError, PluginError

app = typer.Typer(
    help="genosd: network automation daemon", no_args_is_help=True, add_completion=False
)
lab_app = typer.Typer(help="Simulated devices on 127.0.0.1", no_args_is_help=True)
inventory_app = typer.Typer(help="Inspect the inventory", no_args_is_help=True)
app.add_typer(lab_app, name="lab")
app.add_typer(inventory_app, name="inventory")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(settings_app, name="settings")
app.add_typer(config_app, name="config")
inventory_app.command("trust")(inventory_trust)
app.command("facts")(facts_command)


def _lab_paths(config: Path | None) -> tuple[Path, list[Path]]:
    from genosd.lab.manager import Lab
    from genosd.settings import load_settings

    settings = load_settings(config)
    lab = Lab(settings.state_dir, settings.inventory_dir)
    if lab.status() is None:
        with console.status("starting the lab (first start indexes the recordings)…"):
            lab.start()
    return lab.inventory_dir, [lab.secrets_dir]


def _load(config: Path | None, lab: bool) -> Any:
    from genosd.daemon import build_state

    inventory_dir, secrets = _lab_paths(config) if lab else (None, [])
    return build_state(config, inventory_dir, secrets)


@app.command()
def run(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Run the daemon (systemd's ExecStart)."""
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    from genosd.api.app import load_plugins

    try:
        state = _load(config, lab)
        load_plugins(state)
    except (ConfigError, PluginError) as exc:
        fail_config(exc)
        return
    logging.getLogger().setLevel(state.settings.log_level)
    from genosd.daemon import serve

    asyncio.run(serve(state))


@app.command("check-config")
def check_config(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Validate settings, inventory and plugins; exit 78 naming file, line and field on any problem."""
    from genosd.api.app import load_plugins

    try:
        state = _load(config, lab)
        load_plugins(state)
    except (ConfigError, PluginError) as exc:
        fail_config(exc)
        return
    broken = [r for r in state.plugins.records.values() if r.state in ("failed", "missing")]
    if broken:
        # the daemon would start without them; a config check must still say no
        fail_config(
            PluginError(
                "plugins that would be disabled:\n"
                + "\n".join(f"  - {r.name}: {r.error}" for r in broken)
            )
        )
    active = ", ".join(r.name for r in state.plugins.active) or "none"
    console.print(
        f"settings OK ({state.config_file or 'defaults'}); inventory OK ({state.inventory_dir}: "
        f"{len(state.inventory.devices)} devices); plugins OK ({active})"
    )


@inventory_app.command("list")
def inventory_list(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """List devices."""
    from genosd.inventory import parse_filters

    try:
        state = _load(config, lab)
        devices = state.inventory.select(parse_filters(filter or []))
    except ConfigError as exc:
        fail_config(exc)
        return
    rows = [
        {
            "name": d.name,
            "hostname": d.hostname,
            "platform": d.platform,
            "groups": list(d.groups),
            "tags": list(d.tags),
            "snmp": d.snmp.version if d.snmp else None,
        }
        for d in devices
    ]
    if json_out:
        print(json.dumps(rows, indent=2))
        return
    table = Table("name", "hostname", "platform", "groups", "tags", "snmp")
    for r in rows:
        table.add_row(
            r["name"],
            r["hostname"],
            r["platform"] or "",
            ",".join(r["groups"]),
            ",".join(r["tags"]),
            r["snmp"] or "-",
        )
    Console().print(table)


@inventory_app.command("check")
def inventory_check(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Validate the inventory (same checks as check-config)."""
    check_config(config, lab)


@app.command()
def poll(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """Poll the selected devices once and print what came back."""
    from genosd.collectors.scheduler import PollScheduler
    from genosd.inventory import parse_filters

    try:
        state = _load(config, lab)
        devices = [d for d in state.inventory.select(parse_filters(filter or [])) if d.snmp]
    except ConfigError as exc:
        fail_config(exc)
        return

    async def _poll_all() -> list[Any]:
        async def ignore(_: Any) -> None:
            return None

        scheduler = PollScheduler(
            ignore, concurrency=state.settings.poller.concurrency, backoff_max=60
        )
        try:
            return await asyncio.gather(*(scheduler.poll_once(d) for d in devices))
        finally:
            await scheduler.stop()

    with console.status(f"polling {len(devices)} devices…"):
        polls = asyncio.run(_poll_all())
    if json_out:
        print(
            json.dumps(
                [
                    {
                        "device": p.device,
                        "ok": p.ok,
                        "error": p.error,
                        "duration_s": round(p.duration, 4),
                        "system": p.system,
                        "interfaces": p.interfaces,
                        "cpu": [vars(c) for c in p.cpu],
                        "memory": [vars(m) for m in p.memory],
                        "problems": p.problems,
                    }
                    for p in polls
                ],
                indent=2,
            )
        )
    else:
        table = Table("device", "result", "ms", "sysName", "interfaces", "cpu %", "problems")
        for p in polls:
            cpu = ", ".join(f"{c.load_percent:.0f}" for c in p.cpu[:4])
            result = "[green]ok[/green]" if p.ok else f"[red]{p.error}[/red]"
            table.add_row(
                p.device,
                result,
                f"{p.duration * 1000:.0f}",
                str(p.system.get("sysName", "")),
                str(len(p.interfaces)),
                cpu,
                str(len(p.problems)),
            )
        Console().print(table)
    if not all(p.ok for p in polls):
        raise typer.Exit(1)


@lab_app.command("up")
def lab_up(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Start the simulated devices and write inventory/lab/."""
    from genosd.lab.manager import Lab
    from genosd.settings import load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail_config(exc)
        return
    lab = Lab(settings.state_dir, settings.inventory_dir)
    with console.status("starting the lab (first start indexes the recordings)…"):
        state = lab.start()
    if json_out:
        print(json.dumps(vars(state)))
    else:
        console.print(
            f"lab up: snmpsim pid {state.pid} on udp 127.0.0.1:{state.snmp_port}; inventory in {state.inventory_dir}"
        )
        console.print(_ssh_ports(state))


@lab_app.command("down")
def lab_down(config: ConfigOption = None) -> None:
    """Stop the simulated devices."""
    from genosd.lab.manager import Lab
    from genosd.settings import load_settings

    settings = load_settings(config)
    stopped = Lab(settings.state_dir, settings.inventory_dir).stop()
    console.print("lab stopped" if stopped else "lab was not running")


@lab_app.command("status")
def lab_status(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Is the lab running, and where."""
    from genosd.lab.manager import Lab
    from genosd.settings import load_settings

    settings = load_settings(config)
    state = Lab(settings.state_dir, settings.inventory_dir).status()
    if json_out:
        print(json.dumps(vars(state) if state else None))
    elif state is None:
        console.print("lab is not running")
        raise typer.Exit(3)
    else:
        console.print(f"lab running: snmpsim pid {state.pid} on udp 127.0.0.1:{state.snmp_port}")
        console.print(_ssh_ports(state))


def _ssh_ports(state: Any) -> str:
    ports = ", ".join(f"{name} tcp {port}" for name, port in sorted(state.ssh_ports.items()))
    return f"SSH devices (pid {state.ssh_pid}): {ports}"


def main() -> None:
    """Entry point that turns stray GenosdErrors into a clean message."""
    try:
        app()
    except GenosdError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
