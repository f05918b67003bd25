"""Reload that applies: a new snapshot read off the event loop, then each change put into effect.

SIGHUP, `POST /api/v1/system/reload` and `genosd settings import` (through SIGHUP) come here. The
files are parsed on a worker thread, so the API, pollers and watchdog keep running; a bad file is
refused (ConfigError) and nothing changes. What changed is applied in place: metrics sink and
forwarder, store limits, rate limiter, poller concurrency, log level, plugins, added, removed and
changed devices, schedules. Settings only a restart applies keep their running values; they are
named in the report, the log, /api/v1/system/settings and systemd's status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from genosd import logs
from genosd.app.playbooks import plugin_tasks
from genosd.app.runtime import Runtime
from genosd.app.snapshot import RESTART_REQUIRED, Snapshot, changed, load_snapshot
from genosd.errors import ConfigError
from genosd.settings import GenosdSettings

log = logging.getLogger(__name__)


@dataclass
class ReloadReport:
    """What a reload changed."""

    changed: list[str] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)
    devices_added: list[str] = field(default_factory=list)
    devices_removed: list[str] = field(default_factory=list)
    devices_changed: list[str] = field(default_factory=list)
    plugins_reloaded: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log and systemd."""
        parts = [
            f"{len(self.changed)} setting(s) changed",
            f"devices +{len(self.devices_added)} -{len(self.devices_removed)} "
            f"~{len(self.devices_changed)}",
        ]
        if self.restart_required:
            parts.append("restart needed for " + ", ".join(self.restart_required))
        return "; ".join(parts)


def _keep_running(old: GenosdSettings, new: GenosdSettings) -> GenosdSettings:
    """`new`, with the settings only a restart applies kept at their running values."""
    return new.model_copy(
        update={
            "state_dir": old.state_dir,
            "api": new.api.model_copy(update={"host": old.api.host, "port": old.api.port}),
            "cluster": old.cluster,  # the node's coordinator was built from these
        }
    )


@contextlib.contextmanager
def _gentle_on_the_event_loop() -> Iterator[None]:
    """While a large snapshot is built beside the event loop, keep the loop's pauses short.

    Building 5,000 devices makes ~10^6 objects: a full GC collection then holds the GIL for
    hundreds of milliseconds, and the loop waits up to a switch interval (5 ms) each time it wants
    the GIL back. So: no automatic GC during the reload, 1 ms switches, and the new snapshot goes
    to the permanent generation afterwards (as start-up objects do), out of future full passes.
    """
    interval, enabled = sys.getswitchinterval(), gc.isenabled()
    gc.disable()
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.freeze()
        if enabled:
            gc.enable()


async def reload(runtime: Runtime, actor: str) -> ReloadReport:
    """Read the sources again and apply them; ConfigError (nothing changed) if they are bad."""
    async with runtime.reload_lock:
        with _gentle_on_the_event_loop():
            return await _reload(runtime, actor)


async def _reload(runtime: Runtime, actor: str) -> ReloadReport:
    core = runtime.core
    old = core.snapshot
    try:
        new, report = await asyncio.to_thread(_load_and_compare, old)
    except ConfigError:
        runtime.metrics.reloads.labels("refused").inc()
        raise
    names = report.changed
    await _apply(runtime, old, new, report)
    runtime.restart_required = report.restart_required
    runtime.metrics.reloads.labels("applied").inc()
    await core.audit(
        actor=actor,
        action="reload_settings",
        target="daemon",
        details={
            "changed": names,
            "restart_required": report.restart_required,
            "devices": {
                "added": len(report.devices_added),
                "removed": len(report.devices_removed),
                "changed": len(report.devices_changed),
            },
            "plugins": report.plugins_reloaded,
        },
    )
    core.events.publish("system", {"kind": "reload", "actor": actor, **report.__dict__})
    log.info("reloaded: %s", report.summary())
    return report


def _load_and_compare(old: Snapshot) -> tuple[Snapshot, ReloadReport]:
    """The new snapshot and what differs from `old` (blocking: runs on a worker thread).

    A device that did not change keeps its old object, so the pollers see the same device and
    the two inventories share it instead of holding two copies.
    """
    loaded = load_snapshot(old.sources)
    names = changed(old.settings, loaded.settings)
    new = Snapshot(
        loaded.sources,
        _keep_running(old.settings, loaded.settings),
        loaded.inventory,
        loaded.mib_names,
        loaded.mib_profiles,
    )
    # compared with the running values (kept in `old`), so a change undone is no longer pending
    report = ReloadReport(
        changed=names, restart_required=[n for n in names if n in RESTART_REQUIRED]
    )
    before, after = old.inventory.devices, new.inventory.devices
    for name, device in after.items():
        previous = before.get(name)
        if previous is None:
            report.devices_added.append(name)
        elif previous == device:
            after[name] = previous
        else:
            report.devices_changed.append(name)
    report.devices_removed = sorted(set(before) - set(after))
    report.devices_added.sort()
    report.devices_changed.sort()
    return new, report


async def _apply(runtime: Runtime, old: Snapshot, new: Snapshot, report: ReloadReport) -> None:
    settings = new.settings
    runtime.core.use(new)
    logs.set_level(settings.log_level)
    runtime.limiter.per_minute = settings.api.rate_limit_per_minute
    runtime.limiter.burst = settings.api.rate_limit_burst
    runtime.core.events.queue_size = settings.api.ws_queue_size
    await runtime.pipeline.reconfigure(settings.influx, settings.store)
    runtime.poller.apply(new.inventory.select(), settings.poller)
    runtime.traps.apply(settings)
    runtime.syslog.apply(settings)
    runtime.alerts.apply(settings)
    runtime.core.status.forget(set(report.devices_removed))
    if old.settings.plugins != settings.plugins:
        report.plugins_reloaded = await runtime.plugins.apply(settings.plugins)
    report.restart_required += runtime.plugins.routes_pending()
    runtime.register_notifiers()
    for listener in runtime.reload_listeners:
        listener(settings)
    await runtime.playbook_schedules.sync(plugin_tasks(runtime.plugins.host))
    runtime.jobs.reschedule()
