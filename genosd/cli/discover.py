"""`genosd discover run|show|accept|dismiss`: find devices in the configured ranges, review what
that would change in the inventory, and accept it into hosts.yaml (comments kept), audited."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    console,
    fail,
    fail_config,
    out,
    print_json,
    snapshot,
    with_core,
)
from genosd.errors import ConfigError, GenosdError

discover_app = typer.Typer(
    help="Discovery: probe the configured seeds and ranges, crawl LLDP/CDP, propose inventory "
    "changes an operator accepts",
    no_args_is_help=True,
)
RunArgument = Annotated[int | None, typer.Argument(help="the run's id (default: the newest)")]
IdsArgument = Annotated[list[int] | None, typer.Argument(help="proposal ids (default: none)")]


def _print_run(run: dict[str, Any]) -> None:
    summary = run["summary"]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["started_at"]))
    console.print(
        f"discovery run {run['id']} ({run['status']}, {started}, by {run['actor']}): "
        f"{summary.get('answered', 0)} answered of {summary.get('probed', 0)} probed"
        + (f"; stopped: {run['stopped']}" if run["stopped"] else "")
    )
    if run.get("sightings"):
        seen = Table("address", "sysName", "os", "platform", "via", "neighbours", title="answered")
        for s in run["sightings"]:
            seen.add_row(
                s["address"],
                s["sys_name"] or "",
                s["os"] or "?",
                s["platform"] or "",
                s["via"],
                str(len(s["neighbors"])),
            )
        out().print(seen)
    if summary.get("outside"):
        console.print(
            f"{len(summary['outside'])} neighbours outside discovery.ranges were not probed: "
            + ", ".join(f"{o['name']} ({o['address']})" for o in summary["outside"][:10])
        )
    table = Table("id", "kind", "device", "address", "platform", "status", "why", title="proposals")
    for p in run["proposals"]:
        address = p["address"] or ""
        if p["kind"] == "address":
            address = f"{p['old_address']} → {p['address']}"
        elif p["kind"] == "stale":
            address = p["old_address"] or ""
        table.add_row(
            str(p["id"]),
            p["kind"],
            p["device"],
            address,
            p["platform"] or "",
            p["status"],
            p["reason"],
        )
    out().print(table)


@discover_app.command("run")
def discover_run(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Probe the seeds and ranges now, crawl neighbours, and store the proposals."""
    from genosd.app import discovery

    snap = snapshot(config)
    who = actor()
    try:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("discovering", total=None)
            run = with_core(snap, lambda core: discovery.run(core, who))
    except GenosdError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(run)
        return
    _print_run(run)
    if any(p["status"] == "open" for p in run["proposals"]):
        console.print(f"accept with: genosd discover accept {run['id']} ID… (or --all)")


@discover_app.command("show")
def discover_show(
    run_id: RunArgument = None, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """A run's sightings and proposals (the newest run by default)."""
    from genosd.app import discovery

    try:
        run = with_core(snapshot(config), lambda core: discovery.show(core, run_id))
    except GenosdError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(run)
    else:
        _print_run(run)


@discover_app.command("accept")
def discover_accept(
    run_id: Annotated[int, typer.Argument(help="the run's id")],
    ids: IdsArgument = None,
    all_open: Annotated[bool, typer.Option("--all", help="every open proposal")] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write proposals into hosts.yaml (comments kept; refused if the inventory would not load)."""
    from genosd.app import discovery

    if not ids and not all_open:
        fail("name the proposals to accept, or --all", 2)
    who = actor()
    try:
        done = with_core(
            snapshot(config),
            lambda core: discovery.accept(core, run_id, None if all_open else ids, who),
        )
    except ConfigError as exc:
        fail_config(exc)
    except GenosdError as exc:
        fail(str(exc), 2)
    if json_out:
        print_json(done)
        return
    console.print(done["diff"], markup=False, highlight=False)
    names = ", ".join(f"{p['kind']} {p['device']}" for p in done["accepted"])
    console.print(f"accepted: {names}; a running daemon applies it on reload (SIGHUP)")


@discover_app.command("dismiss")
def discover_dismiss(
    run_id: Annotated[int, typer.Argument(help="the run's id")],
    ids: IdsArgument = None,
    config: ConfigOption = None,
) -> None:
    """Mark proposals as dismissed (nothing is written)."""
    from genosd.app import discovery

    if not ids:
        fail("name the proposals to dismiss", 2)
    who = actor()
    try:
        with_core(snapshot(config), lambda core: discovery.dismiss(core, run_id, ids, who))
    except GenosdError as exc:
        fail(str(exc), 2)
    console.print(f"dismissed {len(ids)} proposal(s) of run {run_id}")
