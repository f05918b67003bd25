"""`genosd health|capacity|report`: health scores, capacity forecasts and reports from the
command line, through the same workflows as the API (genosd.app.health, genosd.app.reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from genosd.app.core import AppCore
from genosd.cli.common import ConfigOption, JsonOption, console, fail, out, print_json, with_history
from genosd.reports.model import KINDS, Format, Report

SourceOption = Annotated[
    str, typer.Option("--source", help="auto, influx (InfluxDB) or local (the daemon's store)")
]


def health(
    group: Annotated[str | None, typer.Option("--group", help="only this group's devices")] = None,
    source: SourceOption = "auto",
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Health scores per device and group, each with what lowered it."""
    from genosd.app import health as workflow

    found = with_history(config, lambda core: workflow.health(core, source))
    if json_out:
        print_json(found)
        return
    groups = Table("group", "score", "devices", "under 70", "worst", title="groups")
    for g in found["groups"]:
        if group is None or g["group"] == group:
            groups.add_row(
                g["group"],
                f"{g['score']:.0f}",
                str(g["devices"]),
                str(g["poor"]),
                f"{g['worst']} ({g['worst_score']:.0f})",
            )
    out().print(groups)
    devices = Table("device", "score", "what lowered it", title="devices (worst first)")
    for d in found["devices"]:
        devices.add_row(
            d["device"], "?" if d["score"] is None else f"{d['score']:.0f}", "; ".join(d["reasons"])
        )
    out().print(devices)


def capacity(
    days: Annotated[
        int | None, typer.Option("--days", help="the window (default capacity.days)")
    ] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="utilisation %")] = None,
    source: SourceOption = "auto",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Links that will cross the utilisation threshold, and the fastest growing."""
    from genosd.app import health as workflow

    found = with_history(
        config,
        lambda core: workflow.capacity(
            core, days=days, threshold=threshold, source=source, limit=limit
        ),
    )
    if json_out:
        print_json(found)
        return
    console.print(
        f"{found['links']} links over {found['days']} days from the {found['source']}; "
        f"{found['crossing_total']} at or crossing {found['threshold']:g}% within "
        f"{found['horizon_days']:g} days"
    )
    for title, rows in (("crossing", found["crossing"]), ("fastest growing", found["top_growth"])):
        table = Table(
            "device",
            "interface",
            "dir",
            "p95 %",
            "peak %",
            "trend %/day",
            "crosses on",
            title=title,
        )
        for x in rows:
            table.add_row(
                x["device"], x["interface"], x["direction"], _num(x["p95"]), _num(x["peak"]),
                _num(x["slope_per_day"], 3), x["crosses_on"] or "",
            )  # fmt: skip
        out().print(table)


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def report(
    kind: Annotated[str, typer.Argument(help=", ".join(KINDS))],
    fmt: Annotated[str, typer.Option("--format", help="html, csv or json")] = "html",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write it here")] = None,
    send: Annotated[
        list[str] | None, typer.Option("--send", help="webhook:NAME or chatops:NAME (repeat)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """A report as HTML (with charts), CSV or JSON: printed, written, or sent."""
    from genosd.app import reports
    from genosd.reports.render import render

    if kind not in KINDS:
        fail(f"unknown report {kind!r}; known: {', '.join(KINDS)}", 2)
    if fmt not in ("html", "csv", "json"):
        fail("--format is html, csv or json", 2)

    chosen = cast(Format, fmt)

    async def make(core: AppCore) -> tuple[Report, list[Path]]:
        built = await reports.build(core, kind)
        files = reports.write(core, built, [chosen]) if send else []
        if send:
            await reports.send(core, built, files, list(send))
        return built, files

    built, files = with_history(config, make)
    text = render(built, chosen)
    if output is not None:
        partial = output.with_name(f".{output.name}.partial")
        partial.write_text(text)
        partial.replace(output)
        console.print(f"{built.title}: written to {output}")
    elif not send:
        print(text, end="")
    if send:
        console.print(f"{built.title}: {', '.join(map(str, files))} queued for {', '.join(send)}")
