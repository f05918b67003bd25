"""The `genosd` command line: one module per command group, each a thin adapter over genosd.app."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from genosd import __version__, logs
from genosd.cli.audit import audit_app
from genosd.cli.cluster import cluster_app
from genosd.cli.commands import commands
from genosd.cli.common import console
from genosd.cli.config import config_app
from genosd.cli.daemon import check_config, run
from genosd.cli.discover import discover_app
from genosd.cli.facts import facts
from genosd.cli.grafana import grafana_app
from genosd.cli.incidents import incidents_app, silences_app
from genosd.cli.inventory import inventory_app
from genosd.cli.keys import keys_app
from genosd.cli.lab import lab_app
from genosd.cli.llm import llm_app
from genosd.cli.mcp import mcp
from genosd.cli.playbook import playbook_app
from genosd.cli.plugins import add_plugin_commands
from genosd.cli.poll import poll
from genosd.cli.reports import capacity, health, report
from genosd.cli.settings import settings_app
from genosd.cli.syslog import syslog_app
from genosd.cli.tools import tools_app
from genosd.cli.troubleshoot import diagnose, lookup, path
from genosd.cli.waivers import waivers_app
from genosd.errors import GenosdError

app = typer.Typer(
    help="genosd: network automation daemon", no_args_is_help=True, add_completion=False
)


def _version(value: bool) -> None:
    if value:
        print(f"genosd {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """genosd: network automation daemon."""
    logs.setup("WARNING")  # `run` raises it to the configured log_level


app.command("run")(run)
app.command("check-config")(check_config)
app.command("poll")(poll)
app.command("facts")(facts)
app.command("mcp")(mcp)
app.add_typer(lab_app, name="lab")
app.add_typer(inventory_app, name="inventory")
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(settings_app, name="settings")
app.add_typer(waivers_app, name="waivers")
app.add_typer(playbook_app, name="playbook")
app.add_typer(llm_app, name="llm")
app.add_typer(tools_app, name="tools")
app.add_typer(grafana_app, name="grafana")
app.add_typer(syslog_app, name="syslog")
app.command("commands")(commands)
app.command("diagnose")(diagnose)
app.command("path")(path)
app.command("lookup")(lookup)
app.command("health")(health)
app.command("capacity")(capacity)
app.command("report")(report)
app.add_typer(cluster_app, name="cluster")
app.add_typer(incidents_app, name="incidents")
app.add_typer(discover_app, name="discover")
app.add_typer(silences_app, name="silences")
add_plugin_commands(
    app,
    {c.name or "" for c in app.registered_commands} | {g.name or "" for g in app.registered_groups},
)


def main() -> None:
    """Entry point that turns stray GenosdErrors into a clean message."""
    try:
        app()
    except GenosdError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
