"""SSH facts in the daemon: collected on an interval and on demand, stored, exposed, turned into points."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from genosd import __version__
from genosd.api.models import FactsOut, FactsRunOut
from genosd.api.spec import Api
from genosd.api.state import STATE, DaemonState
from genosd.auth.keys import Role
from genosd.collectors.facts import FactsResult, collect_facts, facts_to_points, store_facts
from genosd.collectors.facts import stored_facts as read_stored
from genosd.errors import InvalidRequestError, NotFoundError
from genosd.inventory import Device

log = logging.getLogger(__name__)
routes = Api("genosd", __version__)


async def run_facts(state: DaemonState, devices: list[Device]) -> list[FactsResult]:
    """Collect, store, and write `interface` points for devices that SNMP does not poll."""
    ssh = state.settings.ssh
    results = await asyncio.to_thread(
        collect_facts,
        [d.ssh for d in devices if d.ssh],
        state.known_hosts,
        policy=ssh.host_key_policy,
        concurrency=ssh.concurrency,
    )
    points = []
    for result in results:
        if result.facts:
            await state.db.run(store_facts, result)
        device = state.inventory.devices.get(result.device)
        if device is not None and device.snmp is None:
            points.extend(facts_to_points(result, device.hostname))
    await state.commit_points(points)
    return results


async def facts_schedule(state: DaemonState) -> None:
    """Collect facts from every SSH device every `ssh.facts_interval` seconds."""
    while True:
        interval = state.settings.ssh.facts_interval
        if not interval:
            await asyncio.sleep(60)  # disabled; a reload may enable it
            continue
        devices = [d for d in state.inventory.select() if d.ssh is not None]
        try:
            failed = [r for r in await run_facts(state, devices) if not r.ok]
            if failed:
                log.info("facts: %d of %d devices failed", len(failed), len(devices))
        except Exception:
            log.exception("fact collection failed")
        await asyncio.sleep(interval)


@routes.route(
    "GET", "/api/v1/devices/{name}/facts", tag="devices", role=Role.viewer, response=FactsOut
)
async def get_facts(request: web.Request) -> FactsOut:
    """The device's newest facts: version, interfaces, addresses, LLDP/CDP neighbours, ARP."""
    state = request.app[STATE]
    device = state.inventory.device(request.match_info["name"])
    found = await state.db.run(read_stored, device.name)
    if found is None:
        raise NotFoundError(f"no facts collected from {device.name} yet")
    return FactsOut(
        device=found.device, collected_at=found.collected_at, facts=found.facts, errors=found.errors
    )


@routes.route(
    "POST", "/api/v1/devices/{name}/facts", tag="devices", role=Role.operator, response=FactsRunOut
)
async def collect_now(request: web.Request) -> FactsRunOut:
    """Collect the device's facts over SSH now."""
    state = request.app[STATE]
    device = state.inventory.device(request.match_info["name"])
    if device.ssh is None:
        raise InvalidRequestError(f"{device.name} has no SSH settings (data.ssh.credential)")
    [result] = await run_facts(state, [device])
    return FactsRunOut(
        device=result.device,
        ok=result.ok,
        error=result.error,
        kinds=sorted(result.facts),
        errors=result.errors,
        duration=round(result.duration, 3),
    )
