"""Plugins' own command groups: `genosd <plugin> …` for every installed plugin with a CLI hook.

A plugin that fails to import or whose hook fails leaves its commands out with a warning on
stderr; it never breaks the other commands. A plugin's command opens the plugin the way the
daemon does (settings section validated, the same context services) for its own duration.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pluggy
import typer

from genosd.cli.common import actor, console, fail, snapshot
from genosd.pluginhost.contract import CliSession, GenosdHookSpecs
from genosd.pluginhost.manager import discover


def _opener(ep: importlib.metadata.EntryPoint):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def open_plugin(config: Path | None) -> AsyncIterator[CliSession]:
        from genosd.app.core import tool_core
        from genosd.app.plugins import make_context
        from genosd.pluginhost.manager import PluginHost

        snap = snapshot(None if config is None else Path(config))
        async with tool_core(snap) as core:
            context = make_context(core, ep.name)
            host = PluginHost()
            sections = {ep.name: core.settings.plugins.get(ep.name) or {}}
            host.load(sections, lambda name: context, entry_points=[ep])
            record = host.records[ep.name]
            if record.state not in ("active", "degraded"):
                fail(f"plugin {ep.name} is {record.state}: {record.error or 'see plugins.'}", 78)
            api = core.settings.api
            address = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
            scheme = "https" if api.tls_cert else "http"
            bracketed = f"[{address}]" if ":" in address else address
            url = f"{scheme}://{bracketed}:{api.port}"
            yield CliSession(record.config, context, actor(), url, api.tls_cert)

    return open_plugin


def add_plugin_commands(app: typer.Typer, taken: set[str]) -> None:
    """Mount each installed plugin's commands as `genosd <plugin name>`."""
    pm = pluggy.PluginManager("genosd")
    pm.add_hookspecs(GenosdHookSpecs)
    for ep in discover():
        if ep.name in taken:
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            impl = next(
                (i for i in pm.hook.genosd_cli.get_hookimpls() if i.plugin_name == ep.name), None
            )
            group = None if impl is None else impl.function(open_plugin=_opener(ep))
        except Exception as exc:  # a broken plugin must not take the CLI down
            console.print(f"warning: plugin {ep.name}: its commands are unavailable: {exc}")
            continue
        if group is None:
            continue
        if not isinstance(group, typer.Typer):
            console.print(f"warning: plugin {ep.name}: genosd_cli must return a typer.Typer")
            continue
        app.add_typer(group, name=ep.name)
