"""SNMP polling in the daemon: each poll becomes points, events and device status.

The scheduler runs one loop per device; every finished poll is turned into Telegraf-schema points
(with rates), committed to the pipeline, published as `poll.result` (and `device.status` on a
change), and counted. `poll_now` is the on-demand poll behind the API and the CLI's `--now`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableSequence
from dataclasses import asdict, replace

from genosd import audit
from genosd.app.core import AppCore
from genosd.app.metrics import DaemonMetrics
from genosd.app.status import vitals_of
from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import FULL_PROFILE, SnmpPoll
from genosd.errors import NotManagedError
from genosd.inventory import Device
from genosd.metrics.rates import CounterRates
from genosd.metrics.telegraf import health_point, poll_to_points
from genosd.settings_sections import PollerSettings

log = logging.getLogger(__name__)


class Poller:
    """The SNMP side of the daemon: scheduler, counter rates, poll handling."""

    def __init__(
        self,
        core: AppCore,
        scheduler: PollScheduler,
        metrics: DaemonMetrics,
        lags: MutableSequence[float] | None = None,
    ):
        self.core = core
        self.lags = lags  # recent start lags, which the cluster heartbeat reports
        self.scheduler = scheduler
        self.metrics = metrics
        self.rates = CounterRates()
        self.last_progress = 0.0  # wall time of the newest finished poll (the watchdog reads it)
        self._warned_text: set[str] = set()  # devices already warned about non-UTF-8 strings
        self._warned_narrow: set[str] = set()  # ... about Counter32 in 64-bit counter columns
        self.use_profiles(core.settings.poller)

    def start(self) -> None:
        """Start a loop for every SNMP device of the inventory."""
        self.scheduler.update(self.core.inventory.select())

    async def stop(self) -> None:
        """Stop every loop."""
        await self.scheduler.stop()

    def apply(self, devices: list[Device], settings: PollerSettings) -> None:
        """A reload: new limits, loops for added devices, removed ones stopped after their poll."""
        self.scheduler.reconfigure(
            concurrency=settings.concurrency, backoff_max=settings.backoff_max
        )
        self.use_profiles(settings)
        self.scheduler.update(devices)
        names = {d.name for d in devices}
        for gone in self.rates.devices() - names:
            self.rates.forget(gone)

    def use_profiles(self, settings: PollerSettings) -> None:
        """The MIB profiles of the snapshot in effect, and which of them are enabled."""
        self.scheduler.mib_profiles = self.core.snapshot.mib_profiles
        self.scheduler.poll_profile = replace(FULL_PROFILE, enabled=tuple(settings.profiles))

    async def handle(self, poll: SnmpPoll) -> None:
        """Turn one poll into points, commit them, publish it."""
        if poll.invalid_utf8 and poll.device not in self._warned_text:
            self._warned_text.add(poll.device)  # once per device: the next polls only count them
            log.warning(
                "%s sends strings that are not UTF-8 (%d in this poll); read as Latin-1 and "
                "counted in genosd_poll.invalid_utf8",
                poll.device,
                poll.invalid_utf8,
            )
        if poll.narrow_counters and poll.device not in self._warned_narrow:
            self._warned_narrow.add(poll.device)
            log.warning(
                "%s answers %d 64-bit counters (ifHC*) with a Counter32; their rates wrap at "
                "2^32 and they are counted in genosd_poll.counter32_in_counter64",
                poll.device,
                len(poll.narrow_counters),
            )
        points = poll_to_points(poll, self.rates)
        vitals = vitals_of(points) if poll.ok else None
        if vitals is not None:
            self.core.status.vitals[poll.device] = vitals
        health = self.scheduler.health.get(poll.device)
        hostname = str(poll.system.get("sysName") or poll.device)
        points.append(health_point(poll, hostname, health.last_success if health else None))
        await self.core.points.commit(points)
        self.metrics.points.inc(len(points))
        self.core.events.publish(
            "poll.result",
            {
                "device": poll.device,
                "ok": poll.ok,
                "error": poll.error,
                "duration": poll.duration,
                "timed_out": poll.timed_out,
                "requests": poll.requests,
                "varbinds": poll.varbinds,
                "interfaces": len(poll.interfaces),
                **(asdict(vitals) if vitals is not None else {}),
            },
        )
        device = self.core.inventory.devices.get(poll.device)
        if device is not None:
            self.core.status.publish_change(device, poll.error)
        self.metrics.polls.labels("ok" if poll.ok else "failed").inc()
        self.metrics.poll_duration.observe(poll.duration)
        if poll.slot is not None:
            lag = max(0.0, poll.started - poll.slot)
            self.metrics.poll_lag.observe(lag)
            if self.lags is not None:
                self.lags.append(lag)
        self.last_progress = time.time()
        self.metrics.last_poll_progress.set(self.last_progress)

    async def poll_now(self, name: str, actor: str) -> SnmpPoll:
        """Poll one device now, outside its schedule (audited); results flow as usual."""
        device = self.core.inventory.device(name)
        if device.snmp is None:
            raise NotManagedError(device.name, "SNMP", "data.snmp.credential")
        poll = await self.scheduler.poll_once(device)
        await self.core.db.run(
            lambda db: audit.record(
                db,
                actor=actor,
                action="poll_device_now",
                target=f"device:{device.name}",
                result="ok" if poll.ok else "failed",
                details={"error": poll.error},
            )
        )
        return poll
