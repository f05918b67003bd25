"""What the `genosd` commands share: options, output, and one typed set-up step.

Data goes to stdout (tables at full width when stdout is not a terminal, or JSON with `--json`);
progress, diagnostics and errors go to stderr. A bad settings or inventory file exits 78 with one
problem per line, naming file, line and field.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import importlib.util
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from genosd.app.core import AppCore, tool_core
from genosd.app.snapshot import Snapshot, Sources, load_settings_from, load_snapshot
from genosd.errors import EX_CONFIG, ConfigError, GenosdError, InventoryError, PluginError
from genosd.inventory import Device, parse_filters
from genosd.settings import GenosdSettings

T = TypeVar("T")

console = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings file (genosd.yaml)")
]
LabOption = Annotated[bool, typer.Option("--lab", help="use (and start) the built-in lab")]
FilterOption = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="KEY=VALUE (name, group, tag, platform, site, role)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print data as JSON")]
DeviceArg = Annotated[str, typer.Argument(help="device name")]


def out() -> Console:
    """The console for data on stdout: no wrapping or truncation when it is not a terminal."""
    tty = sys.stdout.isatty()
    return Console(highlight=False, soft_wrap=True, width=None if tty else 100_000)


def print_json(data: Any) -> None:
    """Data as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail_config(exc: ConfigError | PluginError) -> NoReturn:
    """Print a configuration or required-plugin error (one problem per line) and exit 78."""
    console.print(f"[red]configuration error:[/red] {exc}", markup=True)
    raise typer.Exit(EX_CONFIG)


def fail_invalid(exc: ValidationError) -> NoReturn:
    """Print what a request built from options got wrong (field: message) and exit 2."""
    fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), 2)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error and exit with `code`."""
    console.print(f"[red]error:[/red] {message}", markup=True)
    raise typer.Exit(code)


def actor() -> str:
    """Who runs this command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def sources(config: Path | None, lab: bool) -> Sources:
    """Where settings and inventory come from; with `lab`, the lab is started if it is not up."""
    if not lab:
        return Sources(config_file=config)
    inventory_dir, secrets_dir = running_lab(config)
    return Sources(config_file=config, inventory_dir=inventory_dir, secrets_dirs=(secrets_dir,))


LAB_PACKAGES = ("snmpsim", "snmpsim_data", "asyncssh")


def lab_for(config: Path | None) -> Any:
    """The lab of this state directory (exit 2 when the `lab` extra is not installed)."""
    missing = [name for name in LAB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"the lab needs {', '.join(missing)}, which the default install leaves out; "
            "install it with: pip install 'genosd[lab]'",
            2,
        )
    from genosd.lab.manager import Lab

    return Lab(settings_only(config).state_dir)


def running_lab(config: Path | None) -> tuple[Path, Path]:
    """The lab's inventory and secrets directories, starting the lab if it is not up."""
    lab = lab_for(config)
    if lab.status() is None:
        with console.status("starting the lab (the first start indexes the recordings)…"):
            lab.start()
    return lab.inventory_dir, lab.secrets_dir


def lab_is_running(config: Path | None) -> bool:
    """Whether this state directory's lab is up."""
    return lab_for(config).status() is not None


def stop_lab(config: Path | None) -> bool:
    """Stop this state directory's lab; False if it was not running."""
    return bool(lab_for(config).stop())


def settings_only(config: Path | None) -> GenosdSettings:
    """The settings (no inventory); exit 78 when they are invalid."""
    try:
        return load_settings_from(Sources(config_file=config))
    except ConfigError as exc:
        fail_config(exc)


def snapshot(config: Path | None, lab: bool = False) -> Snapshot:
    """Settings and inventory; exit 78 naming every problem when they are invalid."""
    try:
        return load_snapshot(sources(config, lab))
    except ConfigError as exc:
        fail_config(exc)


def select(snap: Snapshot, filters: list[str] | None) -> list[Device]:
    """The devices matching `--filter` expressions (exit 2 on a malformed one)."""
    try:
        return snap.inventory.select(parse_filters(filters or []))
    except InventoryError as exc:
        fail(str(exc), 2)


def with_core(snap: Snapshot, work: Callable[[AppCore], Awaitable[T]]) -> T:
    """Run one workflow on an AppCore opened for this command (events reach the daemon)."""

    async def main() -> T:
        async with tool_core(snap) as core:
            core.prompts.loader = lambda: _prompt_library(core)
            return await work(core)

    return asyncio.run(main())


def _prompt_library(core: AppCore) -> Any:
    """The prompt library's source, loading the plugins when a feature first needs a prompt."""
    from genosd.app.plugins import load_plugins

    try:
        return load_plugins(core).prompt_source()
    except PluginError as exc:  # a required plugin failed: its own command says so
        console.print(f"warning: plugins: {exc}")
        return None


def state_db(config: ConfigOption) -> sqlite3.Connection:
    """The state database of the configured state directory (created and migrated if needed)."""
    from genosd.statedb import connect, state_db_path

    return connect(state_db_path(settings_only(config).state_dir))


@contextlib.asynccontextmanager
async def poll_history(core: AppCore) -> AsyncIterator[None]:
    """The daemon's metrics store, read beside it (WAL), so flaps and rates are checked too."""
    from genosd.metrics.store import MetricsStore

    path = core.settings.state_dir / "metrics.sqlite3"
    if not path.exists():
        yield
        return
    store = core.settings.store
    # forwarding=True: opening must not touch the daemon's spool
    reader = MetricsStore(
        path, max_bytes=store.max_bytes, retention_hours=store.retention_hours, forwarding=True
    )
    await reader.open()
    core.metric_reader = reader
    try:
        yield
    finally:
        core.metric_reader = None
        await reader.close()


def with_history(config: Path | None, work: Callable[[AppCore], Awaitable[T]]) -> T:
    """Run a workflow on a core that reads the daemon's metrics too; exit 2 on a GenosdError."""

    async def reading(core: AppCore) -> T:
        async with poll_history(core):
            return await work(core)

    try:
        return with_core(snapshot(config), reading)
    except GenosdError as exc:
        fail(str(exc), 2)
