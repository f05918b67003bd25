"""`genosd grafana install DIR`: genosd's data sources and dashboards for an existing Grafana."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from genosd.cli.common import console

grafana_app = typer.Typer(help="Grafana: provisioning and dashboards", no_args_is_help=True)


@grafana_app.command("install")
def install(
    directory: Annotated[Path, typer.Argument(help="where to write (e.g. /etc/grafana)")],
    influx_url: Annotated[str, typer.Option(help="InfluxDB's URL")] = "http://localhost:8086",
    database: Annotated[str, typer.Option(help="the InfluxQL database")] = "telegraf",
    prometheus_url: Annotated[
        str, typer.Option(help="the Prometheus that scrapes genosd's /metrics")
    ] = "http://localhost:9090",
    json_out: Annotated[bool, typer.Option("--json", help="the files written, as JSON")] = False,
) -> None:
    """Write provisioning/datasources, provisioning/dashboards and dashboards/*.json under DIR
    (point Grafana's paths.provisioning at DIR/provisioning, or copy them); restart Grafana."""
    from genosd.dashboards import install as write

    written = write(
        directory, influx_url=influx_url, database=database, prometheus_url=prometheus_url
    )
    if json_out:
        sys.stdout.write(json.dumps([str(p) for p in written], indent=2) + "\n")
        return
    for path in written:
        console.print(str(path))
    console.print(
        "[dim]set GENOSD_INFLUX_PASSWORD for Grafana (the data source reads it), point "
        f"paths.provisioning at {directory.resolve() / 'provisioning'}, restart Grafana[/dim]"
    )
