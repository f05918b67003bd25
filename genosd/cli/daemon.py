"""`genosd run` (systemd's ExecStart) and `genosd check-config`."""

from __future__ import annotations

import asyncio
import logging

from genosd import logs
from genosd.cli.common import (
    ConfigOption,
    LabOption,
    console,
    fail_config,
    lab_is_running,
    sources,
    stop_lab,
)
from genosd.errors import ConfigError, PluginError

log = logging.getLogger("genosd")


def run(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Run the daemon (systemd's ExecStart); with --lab, also the lab, stopped on exit."""
    logs.set_level("INFO")
    from genosd.app.runtime import build_runtime
    from genosd.daemon import serve, tls_context

    lab_started = False
    try:
        if lab:
            lab_started = not lab_is_running(config)
        runtime = build_runtime(sources(config, lab))
        tls = tls_context(runtime.core.settings.api)
    except (ConfigError, PluginError) as exc:
        fail_config(exc)
    logs.set_level(runtime.core.settings.log_level)
    try:
        asyncio.run(serve(runtime, tls))
    finally:
        if lab_started:
            log.info("stopping the lab this daemon started")
            stop_lab(config)


def check_config(config: ConfigOption = None, lab: LabOption = False) -> None:
    """Validate settings, inventory and plugins; exit 78 naming file, line and field on any problem."""
    from genosd.app.runtime import build_runtime

    try:
        runtime = build_runtime(sources(config, lab))
    except (ConfigError, PluginError) as exc:
        fail_config(exc)
    host = runtime.plugins.host
    broken = [r for r in host.records.values() if r.state in ("failed", "missing")]
    if broken:
        # the daemon would start without them; a config check must still say no
        problems = "\n".join(f"  - {r.name}: {r.error}" for r in broken)
        fail_config(PluginError(f"plugins that would be disabled:\n{problems}"))
    from genosd.daemon import tls_context

    try:
        runtime.core.lifecycle.rules  # noqa: B018 - load the rule files: a bad one is a config error
        tls_context(runtime.core.settings.api)
    except ConfigError as exc:
        fail_config(exc)
    snapshot = runtime.core.snapshot
    active = ", ".join(r.name for r in host.active) or "none"
    console.print(
        f"settings OK ({snapshot.sources.config_file or 'defaults'}); inventory OK "
        f"({snapshot.inventory_dir}: {len(snapshot.inventory.devices)} devices); "
        f"plugins OK ({active})"
    )
