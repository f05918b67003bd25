"""`genosd facts`: collect (or read back) the parsed show outputs of SSH devices."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.progress import Progress
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

MAX_COLUMNS = 8  # a wide TextFSM record (show interfaces has 30+ fields) stays readable


def facts(
    devices: Annotated[list[str] | None, typer.Argument(help="device names (default: all)")] = None,
    config: ConfigOption = None,
    lab: LabOption = False,
    filter: FilterOption = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="print the rows of this kind (e.g. interfaces)")
    ] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="read the stored facts; do not connect")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Collect facts over SSH now (stored for templates and the API), or show the stored ones."""
    from genosd.app import facts as workflow
    from genosd.collectors.facts import FactsResult, stored_facts

    snap = snapshot(config, lab)
    selected = [d for d in select(snap, filter) if d.ssh]
    if devices:
        unknown = sorted(set(devices) - {d.name for d in selected})
        if unknown:
            fail(f"not an SSH device of the selection: {', '.join(unknown)}", 2)
        selected = [d for d in selected if d.name in devices]
    if not selected:
        fail("no selected device has SSH settings (data.ssh.credential)", 2)
    results: list[FactsResult]
    if stored:
        found = with_core(
            snap, lambda core: core.db.run(lambda db: [stored_facts(db, d.name) for d in selected])
        )
        results = [
            r or FactsResult(d.name, False, error="no facts stored yet")
            for d, r in zip(selected, found, strict=True)
        ]
    else:
        with Progress(console=console, transient=True) as progress:
            progress.add_task(f"collecting facts from {len(selected)} devices", total=None)
            results = with_core(snap, lambda core: workflow.collect(core, selected, actor()))
    if json_out:
        print_json([_as_json(r, kind) for r in results])
    elif kind is not None:
        for result in results:
            out().print(_rows_table(result.device, kind, result.facts.get(kind)))
    else:
        out().print(_summary(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _as_json(result: Any, kind: str | None) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    if kind is not None:
        data["facts"] = {kind: data["facts"].get(kind)}
    return data


def _summary(results: list[Any]) -> Table:
    table = Table("device", "result", "kinds (rows)", "errors", title="facts")
    for r in results:
        kinds = ", ".join(f"{k} ({len(rows)})" for k, rows in sorted(r.facts.items()))
        errors = "; ".join(f"{k}: {e}" for k, e in sorted(r.errors.items()))
        table.add_row(r.device, "ok" if r.ok else "[red]failed[/red]", kinds, r.error or errors)
    return table


def _rows_table(device: str, kind: str, rows: list[dict[str, Any]] | None) -> Table | str:
    if not rows:
        return f"{device}: no {kind} facts"
    columns = [c for c in rows[0] if any(row.get(c) not in ("", [], None) for row in rows)]
    table = Table(*columns[:MAX_COLUMNS], title=f"{device}: {kind}")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns[:MAX_COLUMNS]))
    return table


def _cell(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
