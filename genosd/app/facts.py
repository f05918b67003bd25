"""SSH facts: collected from the selected devices on demand, at start-up and every interval.

Parsed facts are stored per device (for templates and the API); devices SNMP does not poll get
`interface` points from their `show interfaces`, and their status from whether SSH answered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from genosd.app.command_history import recorded
from genosd.app.core import AppCore
from genosd.app.fanout import device_names, fan_out, part_failure, ssh_devices_here
from genosd.app.jobs import Every, Job
from genosd.cluster import Work, WorkResult
from genosd.collectors.facts import FactsResult, collect_facts, store_facts, stored_facts
from genosd.errors import NotFoundError, NotManagedError
from genosd.inventory import Device
from genosd.metrics.telegraf import facts_to_points

log = logging.getLogger(__name__)
COLLECT_KIND = "facts.collect"


async def collect(core: AppCore, devices: list[Device], actor: str = "genosd") -> list[FactsResult]:
    """Collect and store the facts of `devices` (those with SSH settings) for `actor`; one
    result each. In a cluster the nodes serving the devices' poller groups collect, and this
    node stores."""
    by_name = {d.name: d for d in devices if d.ssh is not None}
    with recorded(core, actor, "facts"):
        if core.work.distributed:
            results = await _collect_on_nodes(core, list(by_name.values()))
        else:
            results = await _collect_here(core, list(by_name.values()))
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


async def _collect_here(core: AppCore, devices: list[Device]) -> list[FactsResult]:
    ssh = core.settings.ssh
    return await asyncio.to_thread(
        collect_facts,
        [d.ssh for d in devices if d.ssh is not None],
        core.known_hosts,
        policy=ssh.host_key_policy,
        concurrency=ssh.concurrency,
    )


async def _collect_on_nodes(core: AppCore, devices: list[Device]) -> list[FactsResult]:
    found: dict[str, FactsResult] = {}
    for names, outcome in await fan_out(core, COLLECT_KIND, devices, device_names):
        found.update({name: _facts_of(outcome, name) for name in names})
    return [found[d.name] for d in devices]


def _facts_of(outcome: WorkResult, name: str) -> FactsResult:
    failure = part_failure(outcome)
    if failure is not None:
        return FactsResult(name, False, error=failure)
    try:
        return FactsResult(**outcome.data["facts"][name])
    except (KeyError, TypeError):
        return FactsResult(name, False, error=f"{outcome.node} sent no facts for {name}")


async def collect_part(core: AppCore, work: Work) -> dict[str, Any]:
    """Collect the facts of a part another node sent (nothing stored here)."""
    devices, missing = ssh_devices_here(core, work)
    facts = {name: asdict(FactsResult(name, False, error=e)) for name, e in missing.items()}
    for result in await _collect_here(core, devices):
        facts[result.device] = asdict(result)
    return {"facts": facts}


async def collect_one(core: AppCore, name: str, actor: str = "genosd") -> FactsResult:
    """Collect one device's facts now for `actor` (NotManagedError without SSH settings)."""
    device = core.inventory.device(name)
    if device.ssh is None:
        raise NotManagedError(device.name, "SSH", "data.ssh.credential")
    [result] = await collect(core, [device], actor)
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
