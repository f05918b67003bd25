"""SSH facts: collected from the selected devices on demand, at start-up and every interval.

Parsed facts are stored per device (for templates and the API); devices SNMP does not poll get
`interface` points from their `show interfaces`, and their status from whether SSH answered.
"""

from __future__ import annotations

import asyncio
import logging

from genosd.app.core import AppCore
from genosd.app.jobs import Every, Job
from genosd.collectors.facts import FactsResult, collect_facts, store_facts, stored_facts
from genosd.errors import NotFoundError, NotManagedError
from genosd.inventory import Device
from genosd.metrics.telegraf import facts_to_points

log = logging.getLogger(__name__)


async def collect(core: AppCore, devices: list[Device]) -> list[FactsResult]:
    """Collect and store the facts of `devices` (those with SSH settings); one result each."""
    ssh = core.settings.ssh
    by_name = {d.name: d for d in devices if d.ssh is not None}
    results = await asyncio.to_thread(
        collect_facts,
        [d.ssh for d in by_name.values() if d.ssh is not None],
        core.known_hosts,
        policy=ssh.host_key_policy,
        concurrency=ssh.concurrency,
    )
    points = []
    for result in results:
        device = by_name[result.device]
        if result.facts:
            await core.db.run(store_facts, result)
        core.status.record_ssh(device, result.ok, result.error, result.duration)
        if device.snmp is None:
            points.extend(facts_to_points(result, device.hostname))
    await core.points.commit(points)
    return results


async def collect_one(core: AppCore, name: str) -> FactsResult:
    """Collect one device's facts now (NotManagedError when it has no SSH settings)."""
    device = core.inventory.device(name)
    if device.ssh is None:
        raise NotManagedError(device.name, "SSH", "data.ssh.credential")
    [result] = await collect(core, [device])
    return result


async def stored(core: AppCore, name: str) -> FactsResult:
    """The device's newest stored facts; NotFoundError before the first collection."""
    device = core.inventory.device(name)
    found = await core.db.run(stored_facts, device.name)
    if found is None:
        raise NotFoundError(f"no facts collected from {device.name} yet")
    return found


class FactsFailures(Exception):
    """A scheduled collection in which devices failed."""


def facts_job(core: AppCore) -> Job:
    """Collect facts from every SSH device at start-up and every `ssh.facts_interval` (0: off)."""

    async def run() -> None:
        devices = [d for d in core.inventory.select() if d.ssh is not None]
        failed = sorted(r.device for r in await collect(core, devices) if not r.ok)
        if failed:
            shown = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
            raise FactsFailures(f"{len(failed)} of {len(devices)} devices failed: {shown}")

    def schedule() -> Every | None:
        interval = core.settings.ssh.facts_interval
        return Every(interval, at_start=True) if interval else None

    return Job("ssh_facts", "genosd", run, schedule, singleton=True)
