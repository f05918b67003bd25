"""`genosd run`: serve the runtime over HTTP, talk to systemd, reload on SIGHUP, stop on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl

from aiohttp import web

from genosd import systemd
from genosd.api.app import create_app
from genosd.app import reload as reloading
from genosd.app.metrics import time_gc_pauses
from genosd.app.runtime import Runtime
from genosd.errors import ConfigError
from genosd.processes import raise_open_files_limit
from genosd.settings_sections import ApiSettings

log = logging.getLogger("genosd")
GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)


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


def tls_context(api: ApiSettings) -> ssl.SSLContext | None:
    """The HTTPS context of `api.tls_cert`/`api.tls_key`, None without them; ConfigError if bad."""
    if api.tls_cert is None or api.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(api.tls_cert, api.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot use api.tls_cert/api.tls_key: {exc}", source=str(api.tls_cert)
        ) from exc
    return context


async def serve(runtime: Runtime, tls: ssl.SSLContext | None = None) -> None:
    """Run until SIGTERM/SIGINT."""
    settings = runtime.core.settings
    files = raise_open_files_limit()
    snmp_devices = sum(1 for d in runtime.core.inventory.devices.values() if d.snmp)
    if files < snmp_devices + 1024:
        log.warning(
            "the open-files limit (%d) is low for %d SNMP devices (a socket each): raise "
            "LimitNOFILE in the unit",
            files,
            snmp_devices,
        )
    app = create_app(runtime)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api.host, settings.api.port, ssl_context=tls)
    await site.start()
    # long-lived start-up objects (modules, settings, inventory) go to the permanent generation,
    # so full collections do not walk them again and again (p99 latency under load)
    gc.collect()
    gc.freeze()
    # fewer young collections promote fewer of each poll's short-lived objects into the old
    # generation, whose growth is what triggers full collections (each ~1 µs per live object:
    # ~0.3 s at 10,000 devices, a pause of the event loop); measured in bench/scale
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    gc_hook = time_gc_pauses(runtime.metrics)
    gc.callbacks.append(gc_hook)
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
        "genosd listening on %s://%s:%d with %d devices",
        "https" if tls else "http",
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
    gc.callbacks.remove(gc_hook)
    log.info("stopped")
