"""Runs one polling loop per device; a slow or dead device never delays another.

In a cluster (a `SlotGate` that is distributed) every node runs the loops of every device, but
at each slot only the device's owner polls it, after claiming the slot; the first poll is on the
grid too, so a slot is the unit nodes agree on.

Each device has its own task and its own socket. A semaphore bounds polls in flight. Polls run on
a fixed grid, like Telegraf's `round_interval`: slot k of a device is `phase + k * interval` on
the wall clock, where the phase is a stable offset derived from the device's name (devices spread
evenly over the interval and keep their slots across restarts). A poll that overruns its
interval skips the slots it missed instead of shifting the ones after; its points carry the
slot's time when it started on time. The first poll after start is spread over a few seconds,
off the grid. A device that fails is polled again after a growing delay (capped by
`backoff_max`), on a later slot; the log records state changes only ("unreachable",
"recovered"), so a dead device does not flood it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from genosd.collectors.mib_profiles import ProfileSet
from genosd.collectors.snmp import FULL_PROFILE, SnmpPoll, poll_device
from genosd.collectors.snmp_client import SessionFactory, SnmpSession
from genosd.inventory import Device

log = logging.getLogger(__name__)

PollHandler = Callable[[SnmpPoll], Awaitable[None]]
DeviceStatus = Literal["up", "down", "unknown"]


@dataclass
class DeviceHealth:
    """What the daemon knows about a device's polling right now."""

    last_poll: float | None = None
    last_success: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_duration: float | None = None
    skipped_slots: int = 0  # slots missed because a poll overran its interval

    @property
    def status(self) -> DeviceStatus:
        """up, down or unknown (never polled)."""
        if self.last_poll is None:
            return "unknown"
        return "up" if self.consecutive_failures == 0 else "down"


def next_delay(interval: float, failures: int, backoff_max: float) -> float:
    """Seconds until the next poll: the interval, doubled per consecutive failure, capped."""
    if failures <= 1:
        return interval
    return min(backoff_max, interval * 2 ** (failures - 1))


def phase_of(name: str, interval: float) -> float:
    """A device's stable offset within its interval, spread evenly over devices."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * interval


def next_slot(after: float, interval: float, phase: float) -> float:
    """The first slot (phase + k * interval) strictly later than `after`."""
    return phase + (math.floor((after - phase) / interval) + 1) * interval


class SlotGate(Protocol):
    """Whether this node polls a device's slot (genosd.cluster's coordinators are gates)."""

    distributed: bool

    def owns(self, key: str, group: str) -> bool:
        """Whether this node owns the device now."""
        ...

    async def claim_slot(self, key: str, slot: float, ttl: float) -> str | None:
        """A token for polling this slot, or None."""
        ...

    async def finish_slot(self, key: str, slot: float, token: str, remember: float) -> None:
        """The slot's poll is done."""
        ...


class _DeviceLoop:
    def __init__(self, device: Device, session: SnmpSession):
        self.device = device
        self.session = session
        self.stopping = False
        self.task: asyncio.Task[None] | None = None


class PollScheduler:
    """Owns the per-device loops; `update()` applies a new inventory without dropping in-flight polls."""

    def __init__(
        self,
        handler: PollHandler,
        *,
        concurrency: int,
        backoff_max: float,
        gate: SlotGate | None = None,
    ):
        self._handler = handler
        self.gate = gate
        self.claims_refused = 0  # slots another node had (or had polled) when this one asked
        self._limit = asyncio.Semaphore(concurrency)
        self._backoff_max = backoff_max
        self._factory = SessionFactory()
        self._loops: dict[str, _DeviceLoop] = {}
        self.health: dict[str, DeviceHealth] = {}
        # rows of each device's longest table at its last poll: the next GETBULK asks for one
        # more, so a walk ends in one request and the agent does not encode (nor we decode)
        # max_repetitions rows of every column for a table of three
        self._rows: dict[str, int] = {}
        self.mib_profiles = ProfileSet()  # set by the application from the snapshot in effect
        self.poll_profile = FULL_PROFILE

    def reconfigure(self, *, concurrency: int, backoff_max: float) -> None:
        """New limits (a reload): polls already in flight finish under the old bound."""
        self._limit = asyncio.Semaphore(concurrency)
        self._backoff_max = backoff_max

    def update(self, devices: list[Device]) -> None:
        """Start loops for new devices, stop removed ones after their current poll, pick up changes."""
        wanted = {d.name: d for d in devices if d.snmp is not None}
        for name, loop in list(self._loops.items()):
            device = wanted.get(name)
            if device is loop.device:
                continue  # the same object: a reload that left this device alone
            if device is None or device.snmp != loop.device.snmp:
                loop.stopping = True
                del self._loops[name]
                self._rows.pop(name, None)
                if name not in wanted:
                    self.health.pop(name, None)
        for name, device in wanted.items():
            if name in self._loops:
                self._loops[name].device = device
                continue
            assert device.snmp is not None
            loop = _DeviceLoop(device, self._factory.open(device.snmp))
            self._loops[name] = loop
            self.health.setdefault(name, DeviceHealth())
            loop.task = asyncio.create_task(self._run(loop), name=f"poll:{name}")

    async def poll_once(self, device: Device) -> SnmpPoll:
        """Poll a device now (outside its schedule); the result is recorded and handled as usual."""
        loop = self._loops.get(device.name)
        assert device.snmp is not None
        session = loop.session if loop else self._factory.open(device.snmp)
        try:
            poll = await self._poll(device, session)
        finally:
            if loop is None:
                session.close()
        self._record(poll)
        await self._handler(poll)
        return poll

    async def _poll(self, device: Device, session: SnmpSession) -> SnmpPoll:
        assert device.snmp is not None
        repetitions = device.snmp.max_repetitions
        rows = self._rows.get(device.name)
        if rows is not None:
            repetitions = max(1, min(repetitions, rows + 1))
        async with self._limit:
            poll = await poll_device(
                device.name,
                device.snmp.address,
                session,
                repetitions,
                self.poll_profile,
                self.mib_profiles,
            )
        if poll.ok:
            self._rows[device.name] = poll.longest_table
        return poll

    def _record(self, poll: SnmpPoll) -> None:
        health = self.health.setdefault(poll.device, DeviceHealth())
        health.last_poll, health.last_duration = poll.started, poll.duration
        if poll.ok:
            if health.consecutive_failures:
                log.info(
                    "%s: SNMP recovered after %d failed polls",
                    poll.device,
                    health.consecutive_failures,
                )
            health.consecutive_failures, health.last_error, health.last_success = (
                0,
                None,
                poll.started,
            )
        else:
            if health.consecutive_failures == 0:
                log.warning("%s: SNMP poll failed: %s", poll.device, poll.error)
            health.consecutive_failures += 1
            health.last_error = poll.error

    async def _run(self, loop: _DeviceLoop) -> None:
        if self.gate is not None and self.gate.distributed:
            await self._run_shared(loop, self.gate)
            return
        assert loop.device.snmp is not None
        # the first poll is spread over a few seconds so a restart does not poll all at once;
        # the ones after keep to the grid
        await asyncio.sleep(random.uniform(0, min(loop.device.snmp.interval, 5.0)))
        slot: float | None = None
        skipped = 0
        try:
            while not loop.stopping:
                device = loop.device
                assert device.snmp is not None
                poll = await self._poll(device, loop.session)
                await self._settle(loop, poll, slot, skipped)
                if loop.stopping:
                    break
                slot, skipped = self._next(device, slot if slot is not None else poll.started)
                # the finished poll must not live on in this frame until the next slot: 10,000
                # sleeping loops kept 10,000 polls' values, which every full GC pass walked
                del poll
                await asyncio.sleep(max(0.0, slot - time.time()))
        finally:
            loop.session.close()

    async def _settle(
        self, loop: _DeviceLoop, poll: SnmpPoll, slot: float | None, skipped: int
    ) -> None:
        """A scheduled poll is done: stamp its slot, record the device's health, hand it on."""
        poll.slot, poll.skipped_slots = slot, skipped
        if not loop.stopping:
            # a device changed or removed mid-poll keeps the health of its new target
            self._record(poll)
        try:
            await self._handler(poll)
        except Exception:
            log.exception("%s: handling poll results failed", poll.device)

    async def _run_shared(self, loop: _DeviceLoop, gate: SlotGate) -> None:
        """A device in a cluster: on every slot, poll it if this node owns and claims it."""
        device = loop.device
        assert device.snmp is not None
        slot = next_slot(
            time.time(), device.snmp.interval, phase_of(device.name, device.snmp.interval)
        )
        skipped = 0
        try:
            while not loop.stopping:
                await asyncio.sleep(max(0.0, slot - time.time()))
                device = loop.device
                assert device.snmp is not None
                interval = device.snmp.interval
                token = None
                if gate.owns(device.name, device.poller_group):
                    # the claim outlives no slot: it expires before the device's next one
                    token = await gate.claim_slot(device.name, slot, 0.9 * interval)
                    if token is None:
                        self.claims_refused += 1
                else:
                    loop.session.close()  # another node polls it: no socket held for nothing
                # a node paused (SIGSTOP, a frozen VM) between its claim and here must not poll
                # a slot whose claim has expired: another node may have taken the device
                stale = time.time() - slot > 0.9 * interval
                if token is not None and not stale and not loop.stopping:
                    poll = await self._poll(device, loop.session)
                    await gate.finish_slot(device.name, slot, token, 3 * interval)
                    await self._settle(loop, poll, slot, skipped)
                    del poll  # not kept by the frame until the next slot
                    slot, skipped = self._next(device, slot)
                else:
                    slot, skipped = (
                        next_slot(time.time(), interval, phase_of(device.name, interval)),
                        0,
                    )
        finally:
            loop.session.close()

    def _next(self, device: Device, last: float) -> tuple[float, int]:
        """The next slot after the poll at `last`, and how many slots an overrun skipped."""
        assert device.snmp is not None
        interval = device.snmp.interval
        phase = phase_of(device.name, interval)
        failures = self.health[device.name].consecutive_failures
        earliest = last + next_delay(interval, failures, self._backoff_max)
        slot = next_slot(earliest - interval / 2, interval, phase)
        now = time.time()
        if slot >= now:
            return slot, 0
        due = next_slot(now, interval, phase)
        skipped = round((due - slot) / interval)
        self.health[device.name].skipped_slots += skipped
        log.debug("%s: poll overran its interval; %d slot(s) skipped", device.name, skipped)
        return due, skipped

    async def stop(self) -> None:
        """Cancel every loop and close sockets."""
        tasks = [loop.task for loop in self._loops.values() if loop.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        self._factory.close()
