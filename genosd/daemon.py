"""`genosd run`: start the app, talk to systemd, reload on SIGHUP, flush and exit on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from pathlib import Path

from aiohttp import web

from genosd import systemd
from genosd.api.app import create_app
from genosd.api.state import DaemonState
from genosd.errors import ConfigError
from genosd.inventory import load_inventory
from genosd.settings import load_settings

log = logging.getLogger("genosd")


def build_state(
    config_file: Path | None, inventory_dir: Path | None, extra_secrets_dirs: list[Path]
) -> DaemonState:
    """Load and validate settings and inventory; raises ConfigError on any problem."""
    settings = load_settings(config_file, extra_secrets_dirs=extra_secrets_dirs)
    directory = inventory_dir or settings.inventory_dir
    inventory = load_inventory(directory, settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return DaemonState(
        settings=settings,
        config_file=config_file,
        inventory_dir=directory,
        extra_secrets_dirs=extra_secrets_dirs,
        inventory=inventory,
    )


def _reload(state: DaemonState) -> None:
    """Re-read settings and inventory; keep running on the old ones if the new ones are bad."""
    systemd.reloading()
    try:
        settings = load_settings(state.config_file, extra_secrets_dirs=state.extra_secrets_dirs)
        inventory = load_inventory(state.inventory_dir, settings)
    except ConfigError as exc:
        log.error("reload refused, keeping the running configuration:\n%s", exc)
    else:
        state.settings, state.inventory = settings, inventory
        if state.scheduler is not None:
            state.scheduler.update(inventory.select())
        for removed in set(state.rates._uptime) - set(inventory.devices):
            state.rates.forget(removed)
        log.info("reloaded: %d devices", len(inventory.devices))
    systemd.notify("READY=1\nSTATUS=reloaded")


async def _watchdog(state: DaemonState, interval: float) -> None:
    """Ping systemd only while polls make progress, so a wedged poller gets restarted."""
    started = time.time()
    while True:
        await asyncio.sleep(interval)
        intervals = [d.snmp.interval for d in state.inventory.devices.values() if d.snmp]
        allowed = 3 * max(min(intervals, default=60.0), interval * 2) + 30
        last = state.last_poll_progress or started
        if not intervals or time.time() - last < allowed:
            systemd.notify("WATCHDOG=1")
        else:
            log.error(
                "no poll finished for %.0fs; withholding the watchdog ping", time.time() - last
            )


async def serve(state: DaemonState) -> None:
    """Run until SIGTERM/SIGINT."""
    app = create_app(state)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, state.settings.api.host, state.settings.api.port)
    await site.start()
    # long-lived start-up objects (modules, settings, inventory) go to the permanent generation,
    # so full collections do not walk them again and again (p99 latency under load)
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload, state)
    watchdog_interval = systemd.watchdog_interval()
    watchdog = (
        asyncio.create_task(_watchdog(state, watchdog_interval)) if watchdog_interval else None
    )
    log.info(
        "genosd listening on http://%s:%d with %d devices",
        state.settings.api.host,
        state.settings.api.port,
        len(state.inventory.devices),
    )
    systemd.notify(f"READY=1\nSTATUS=polling {len(state.inventory.devices)} devices")
    await stop.wait()
    systemd.notify("STOPPING=1")
    log.info("stopping: flushing metrics")
    if watchdog is not None:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
    await runner.cleanup()
    log.info("stopped")
