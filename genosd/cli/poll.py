"""`genosd poll`: one SNMP poll of the selected devices, printed (nothing is stored)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import typer
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    FilterOption,
    JsonOption,
    LabOption,
    console,
    out,
    print_json,
    select,
    snapshot,
)


def poll(
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    json_out: JsonOption = False,
) -> None:
    """Poll the selected devices once and print what came back (exit 1 if any failed)."""
    from genosd.collectors.scheduler import PollScheduler
    from genosd.collectors.snmp import FULL_PROFILE

    snap = snapshot(config, lab)
    devices = [d for d in select(snap, filter) if d.snmp]

    async def poll_all() -> list[Any]:
        async def ignore(_: Any) -> None:
            return None

        concurrency = snap.settings.poller.concurrency
        scheduler = PollScheduler(ignore, concurrency=concurrency, backoff_max=60)
        scheduler.mib_profiles = snap.mib_profiles
        scheduler.poll_profile = replace(FULL_PROFILE, enabled=tuple(snap.settings.poller.profiles))
        try:
            return await asyncio.gather(*(scheduler.poll_once(d) for d in devices))
        finally:
            await scheduler.stop()

    with console.status(f"polling {len(devices)} devices…"):
        polls = asyncio.run(poll_all())
    if json_out:
        print_json(
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
                    "tables": [vars(t) for t in p.tables],
                    "problems": p.problems,
                }
                for p in polls
            ]
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
        out().print(table)
    if not all(p.ok for p in polls):
        raise typer.Exit(1)
