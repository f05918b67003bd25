"""`genosd config backup|versions|show|diff` and `genosd inventory trust`."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from genosd.cli_options import (
    ConfigOption,
    FilterOption,
    JsonOption,
    LabOption,
    console,
    fail,
    fail_config,
)
from genosd.errors import ConfigError, DeviceError, GenosdError

config_app = typer.Typer(
    help="Device configurations: backup, history, render, validate, deploy", no_args_is_help=True
)
DeviceArg = Annotated[str, typer.Argument(help="device name")]


def _ssh_devices(config: Path | None, lab: bool, filters: list[str] | None) -> tuple[Any, list]:
    from genosd.cli import _load
    from genosd.inventory import parse_filters

    try:
        state = _load(config, lab)
        devices = [d for d in state.inventory.select(parse_filters(filters or [])) if d.ssh]
    except ConfigError as exc:
        fail_config(exc)
    return state, devices


@config_app.command("backup")
def config_backup(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """Back up the running config of every selected SSH device into the git history."""
    from genosd.config.backup import backup

    state, devices = _ssh_devices(config, lab, filter)
    if not devices:
        fail("no selected device has SSH settings (data.ssh.credential)", 2)
    settings = state.settings.ssh
    with Progress(console=console, transient=True) as progress:
        progress.add_task(f"backing up {len(devices)} devices", total=None)
        results = backup(
            [d.ssh for d in devices],
            state.config_history,
            state.known_hosts,
            policy=settings.host_key_policy,
            concurrency=settings.concurrency,
            author=f"cli:{getpass.getuser()}",
            mask=settings.mask_secrets,
        )
    if json_out:
        print(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    else:
        table = Table("device", "result", "version", "lines", "masked", "error")
        for r in results:
            outcome = "changed" if r.changed else ("ok" if r.ok else "[red]failed[/red]")
            table.add_row(
                r.device,
                outcome,
                (r.version or "")[:10],
                str(r.lines or ""),
                str(r.masked or ""),
                r.error or "",
            )
        Console().print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@config_app.command("versions")
def config_versions(
    device: DeviceArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Stored versions of a device's config, newest first."""
    state, _ = _ssh_devices(config, False, None)
    versions = state.config_history.versions(device)
    if json_out:
        print(json.dumps([dataclasses.asdict(v) for v in versions], indent=2))
        return
    if not versions:
        fail(f"no stored config for {device}", 1)
    table = Table("version", "time", "author", "message")
    for v in versions:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(v.time, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        table.add_row(v.id[:10], when, v.author, v.message)
    Console().print(table)


@config_app.command("show")
def config_show(
    device: DeviceArg, version: Annotated[str, typer.Argument()] = "", config: ConfigOption = None
) -> None:
    """A device's stored config (the newest, or VERSION)."""
    state, _ = _ssh_devices(config, False, None)
    history = state.config_history
    try:
        text = history.show(device, version) if version else history.current(device)
    except GenosdError as exc:
        fail(str(exc))
    if text is None:
        fail(f"no stored config for {device}")
    sys.stdout.write(text)


@config_app.command("diff")
def config_diff(
    device: DeviceArg,
    old: Annotated[str, typer.Argument(help="version")],
    new: Annotated[str, typer.Argument(help="version (default: newest)")] = "",
    config: ConfigOption = None,
) -> None:
    """Unified diff of a device's config between two stored versions."""
    state, _ = _ssh_devices(config, False, None)
    try:
        sys.stdout.write(state.config_history.diff(device, old, new or None))
    except GenosdError as exc:
        fail(str(exc))


def inventory_trust(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="re-pin keys that changed")] = False,
) -> None:
    """Record (pin) the SSH host keys of the selected devices."""
    from genosd.ssh.hostkeys import fetch_host_key

    state, devices = _ssh_devices(config, lab, filter)
    known = state.known_hosts
    failed = False
    for device in devices:
        target = device.ssh
        try:
            key = fetch_host_key(target.address, target.port, target.timeout)
        except DeviceError as exc:
            console.print(f"[red]{device.name}[/red]: {exc}")
            failed = True
            continue
        pinned = known.pinned(target.address, target.port)
        if pinned is None or (pinned != key and replace):
            known.record(target.address, target.port, key, replace=True)
            console.print(
                f"{device.name}: pinned {key.split()[0]}" + (" (replaced)" if pinned else "")
            )
        elif pinned == key:
            console.print(f"{device.name}: already pinned")
        else:
            console.print(f"[red]{device.name}[/red]: key CHANGED; not replaced (use --replace)")
            failed = True
    if failed:
        raise typer.Exit(1)
