"""`genosd run`: serve the runtime over HTTP, talk to systemd, reload on SIGHUP, stop on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from aiohttp import web

from genosd import systemd
from genosd.api.app import create_app
from genosd.app import reload as reloading
from genosd.app.runtime import Runtime
from genosd.errors import ConfigError

log = logging.getLogger("genosd")


async def reload_on_signal(runtime: Runtime) -> None:
    """SIGHUP: apply the files as they are now; a bad file is refused and nothing changes."""
    systemd.reloading()
    try:
        report = await reloading.reload(runtime, "signal:SIGHUP")
    except ConfigError as exc:
        log.error("reload refused, keeping the running configuration:\n%s", exc)
        systemd.notify("READY=1\nSTATUS=reload refused: see the log")
        return
    except Exception:
        log.exception("reload failed")
        systemd.notify("READY=1\nSTATUS=reload failed: see the log")
        return
    systemd.notify(f"READY=1\nSTATUS=reloaded: {report.summary()}")


async def serve(runtime: Runtime) -> None:
    """Run until SIGTERM/SIGINT."""
    settings = runtime.core.settings
    app = create_app(runtime)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api.host, settings.api.port)
    await site.start()
    # long-lived start-up objects (modules, settings, inventory) go to the permanent generation,
    # so full collections do not walk them again and again (p99 latency under load)
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def on_hup() -> None:
        task = asyncio.create_task(reload_on_signal(runtime), name="reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    devices = len(runtime.core.inventory.devices)
    log.info(
        "genosd listening on http://%s:%d with %d devices",
        settings.api.host,
        settings.api.port,
        devices,
    )
    systemd.notify(f"READY=1\nSTATUS=polling {devices} devices")
    await stop.wait()
    systemd.notify("STOPPING=1")
    log.info("stopping: flushing metrics")
    for task in list(reloads):
        task.cancel()
    await runner.cleanup()
    log.info("stopped")
