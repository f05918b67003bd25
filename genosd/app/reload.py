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
import logging
from dataclasses import dataclass, field

from genosd import logs
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
        }
    )


async def reload(runtime: Runtime, actor: str) -> ReloadReport:
    """Read the sources again and apply them; ConfigError (nothing changed) if they are bad."""
    async with runtime.reload_lock:
        core = runtime.core
        old = core.snapshot
        try:
            loaded = await asyncio.to_thread(load_snapshot, old.sources)
        except ConfigError:
            runtime.metrics.reloads.labels("refused").inc()
            raise
        names = changed(old.settings, loaded.settings)
        settings = _keep_running(old.settings, loaded.settings)
        new = Snapshot(loaded.sources, settings, loaded.inventory)
        report = ReloadReport(changed=names)
        report.restart_required = sorted(
            {n for n in names if n in RESTART_REQUIRED} | set(runtime.restart_required)
        )
        _diff_devices(old, new, report)
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


def _diff_devices(old: Snapshot, new: Snapshot, report: ReloadReport) -> None:
    before, after = old.inventory.devices, new.inventory.devices
    report.devices_added = sorted(set(after) - set(before))
    report.devices_removed = sorted(set(before) - set(after))
    report.devices_changed = sorted(n for n in set(before) & set(after) if before[n] != after[n])


async def _apply(runtime: Runtime, old: Snapshot, new: Snapshot, report: ReloadReport) -> None:
    settings = new.settings
    runtime.core.use(new)
    logs.set_level(settings.log_level)
    runtime.limiter.per_minute = settings.api.rate_limit_per_minute
    runtime.limiter.burst = settings.api.rate_limit_burst
    runtime.core.events.queue_size = settings.api.ws_queue_size
    await runtime.pipeline.reconfigure(settings.influx, settings.store)
    runtime.poller.apply(new.inventory.select(), settings.poller)
    runtime.core.status.forget(set(report.devices_removed))
    if old.settings.plugins != settings.plugins:
        before = set(runtime.plugins.host.records)
        restart = await runtime.plugins.apply(settings.plugins)
        report.plugins_reloaded = sorted(
            n
            for n in before | set(runtime.plugins.host.records)
            if (old.settings.plugins.get(n) or {}) != (settings.plugins.get(n) or {})
        )
        report.restart_required = sorted(set(report.restart_required) | set(restart))
    runtime.jobs.reschedule()
