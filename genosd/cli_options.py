"""Options and output helpers shared by the `genosd` sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from genosd.errors import EX_CONFIG, ConfigError, PluginError

console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings file (genosd.yaml)")
]
LabOption = Annotated[bool, typer.Option("--lab", help="use (and start) the built-in lab")]
FilterOption = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="KEY=VALUE (name, group, tag, platform, site, role)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print data as JSON")]


def fail_config(exc: ConfigError | PluginError) -> NoReturn:
    """Print a configuration or required-plugin error (one problem per line) and exit 78."""
    console.print(
        f"[red]configuration error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True
    )
    raise typer.Exit(EX_CONFIG)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with `code`."""
    console.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)
