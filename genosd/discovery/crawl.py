"""A discovery run: probe the seeds (and swept ranges), then follow LLDP/CDP neighbours.

Nothing outside the seeds and `discovery.ranges` is ever probed: a neighbour whose management
address lies elsewhere is listed as `outside`, never contacted. New addresses start at most
`rate` per second, `concurrency` at a time, `depth` hops from where they were first seen; the
run stops at `time_limit` or `max_addresses` and says so, keeping what it found by then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from genosd.discovery.probe import Neighbor, Sighting
from genosd.settings_discovery import DiscoverySettings

Prober = Callable[[str], Awaitable[Sighting]]


@dataclass(frozen=True)
class Lead:
    """An address to probe, how far from the seeds, and who pointed at it."""

    address: str
    depth: int
    via: str


@dataclass(frozen=True)
class Outside:
    """A neighbour named with an address discovery may not probe."""

    name: str
    address: str | None
    seen_from: str
    interface: str


@dataclass
class CrawlResult:
    """Everything a run saw, and why it ended."""

    sightings: list[tuple[Lead, Sighting]] = field(default_factory=list)
    silent: list[Lead] = field(default_factory=list)
    outside: list[Outside] = field(default_factory=list)
    stopped: str | None = None  # time limit / address limit; None when the crawl ran out
    probed: int = 0


class Scope:
    """Which addresses may be probed: the seeds and the configured ranges."""

    def __init__(self, settings: DiscoverySettings):
        self.seeds = {str(ipaddress.ip_address(s)) for s in settings.seeds}
        self.networks = settings.networks()

    def allows(self, address: str | None) -> bool:
        """Whether `address` is a seed or inside a range."""
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return str(ip) in self.seeds or any(ip in net for net in self.networks)


def first_leads(settings: DiscoverySettings, hints: list[tuple[str, Neighbor]]) -> list[Lead]:
    """Seeds, then every address of the ranges when sweeping, then neighbours named in the
    stored facts (`hints`: device, neighbour) that are inside the ranges."""
    scope = Scope(settings)
    leads = [Lead(str(ipaddress.ip_address(s)), 0, "seed") for s in settings.seeds]
    if settings.sweep:
        for network in scope.networks:
            hosts = network.hosts() if network.num_addresses > 2 else iter(network)
            leads.extend(Lead(str(ip), 0, f"range {network}") for ip in hosts)
    for device, neighbor in hints:
        if scope.allows(neighbor.address):
            via = f"neighbour of {device} {neighbor.local_interface} in its stored facts"
            leads.append(Lead(str(neighbor.address), 1, via))
    return leads


async def crawl(
    settings: DiscoverySettings,
    prober: Prober,
    leads: list[Lead],
    hints: Sequence[tuple[str, Neighbor]] = (),
    clock: Callable[[], float] = time.monotonic,
) -> CrawlResult:
    """Probe `leads` and the neighbours they name, within the settings' bounds."""
    scope = Scope(settings)
    result = CrawlResult()
    queue: asyncio.Queue[Lead] = asyncio.Queue()
    queued: set[str] = set()
    for device, neighbor in hints:
        if neighbor.address and not scope.allows(neighbor.address):
            result.outside.append(
                Outside(neighbor.name, neighbor.address, device, neighbor.local_interface)
            )

    def offer(lead: Lead) -> None:
        if lead.address in queued:
            return
        if len(queued) >= settings.max_addresses:
            result.stopped = result.stopped or f"address limit ({settings.max_addresses}) reached"
            return
        queued.add(lead.address)
        queue.put_nowait(lead)

    for lead in leads:
        offer(lead)
    interval = 1.0 / settings.rate
    next_start = clock()
    slots = asyncio.Semaphore(settings.concurrency)
    running: set[asyncio.Task[None]] = set()

    async def visit(lead: Lead) -> None:
        try:
            sighting = await prober(lead.address)
        except OSError as exc:  # no route, address family not available: nothing answered
            sighting = Sighting(lead.address, notes=[str(exc)])
        finally:
            slots.release()
        result.probed += 1
        if not sighting.answered:
            result.silent.append(lead)
            return
        result.sightings.append((lead, sighting))
        for neighbor in sighting.neighbors:
            origin = sighting.sys_name or lead.address
            if not scope.allows(neighbor.address):
                result.outside.append(
                    Outside(neighbor.name, neighbor.address, origin, neighbor.local_interface)
                )
            elif lead.depth < settings.depth:
                via = f"{neighbor.protocol} of {origin} {neighbor.local_interface}"
                offer(Lead(str(neighbor.address), lead.depth + 1, via))

    async def dispatch() -> None:
        nonlocal next_start
        while True:
            if queue.empty():
                if not running:
                    return
                await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED)
                continue
            lead = queue.get_nowait()
            await slots.acquire()
            delay = next_start - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            next_start = max(clock(), next_start) + interval
            task = asyncio.create_task(visit(lead))
            running.add(task)
            task.add_done_callback(running.discard)

    try:
        async with asyncio.timeout(settings.time_limit):
            await dispatch()
    except TimeoutError:
        result.stopped = f"time limit ({settings.time_limit:g} s) reached"
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    return result
