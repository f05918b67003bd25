"""PollScheduler.update(): devices added, removed and changed while polls are in flight (snmpd)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from pydantic import SecretStr

from genosd.collectors.scheduler import PollScheduler, next_delay, next_slot, phase_of
from genosd.collectors.snmp import SnmpPoll
from genosd.inventory import Device, SnmpTarget
from genosd.settings_sections import SnmpCredential

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

PUBLIC = SnmpCredential(community=SecretStr("public"))


def _device(name: str, port: int, *, interval: float = 0.2, timeout: float = 1.0) -> Device:
    target = SnmpTarget("127.0.0.1", port, "2c", PUBLIC, timeout, 0, 25, interval)
    return Device(name, "127.0.0.1", "ios", (), (), snmp=target)


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_next_delay_doubles_per_failure_and_is_capped():
    assert next_delay(60, 0, 600) == 60
    assert next_delay(60, 1, 600) == 60
    assert next_delay(60, 2, 600) == 120
    assert next_delay(60, 3, 600) == 240
    assert next_delay(60, 10, 600) == 600


async def test_update_adds_removes_and_changes_devices(snmpd):
    polls: list[SnmpPoll] = []

    async def handle(poll: SnmpPoll) -> None:
        polls.append(poll)

    scheduler = PollScheduler(handle, concurrency=10, backoff_max=5)
    try:
        scheduler.update([_device("a", snmpd), _device("b", snmpd)])
        await _until(lambda: {"a", "b"} <= {p.device for p in polls if p.ok})

        # a moves to a port nobody answers on, b leaves, c joins
        scheduler.update([_device("a", 9, timeout=0.2), _device("c", snmpd)])
        assert "b" not in scheduler.health
        removed_at = len(polls)
        await _until(lambda: any(p.device == "c" and p.ok for p in polls))
        await _until(lambda: any(p.device == "a" and not p.ok for p in polls[removed_at:]))
        await asyncio.sleep(0.5)
        later_b = [p for p in polls[removed_at:] if p.device == "b"]
        assert len(later_b) <= 1  # at most the poll that was in flight when b was removed
        assert scheduler.health["a"].status == "down" and scheduler.health["c"].status == "up"
    finally:
        await scheduler.stop()


async def test_a_poll_in_flight_during_a_change_is_still_handled(snmpd):
    polls: list[SnmpPoll] = []
    started = asyncio.Event()

    async def handle(poll: SnmpPoll) -> None:
        polls.append(poll)

    scheduler = PollScheduler(handle, concurrency=10, backoff_max=5)
    try:
        slow = _device("r", 9, interval=0.1, timeout=1.0)  # each poll waits out its timeout
        scheduler.update([slow])
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, started.set)
        await started.wait()  # a poll of the dead port is in flight now
        scheduler.update([_device("r", snmpd, interval=30)])  # the operator fixed the port
        # the old target's poll ends with its timeout, before or after the new target's first
        # poll; either way its result is handled (counted, written), not dropped
        await _until(lambda: any(p.ok for p in polls) and any(not p.ok for p in polls), 10)
        failed = [p.error or "" for p in polls if not p.ok]
        assert len(failed) == 1 and failed[0].startswith("no SNMP response"), failed
        assert scheduler.health["r"].status == "up"  # the health is the new target's
    finally:
        await scheduler.stop()


async def test_polls_keep_to_their_slots_and_carry_the_slots_time(snmpd):
    polls: list[SnmpPoll] = []

    async def handle(poll: SnmpPoll) -> None:
        polls.append(poll)

    scheduler = PollScheduler(handle, concurrency=10, backoff_max=5)
    try:
        scheduler.update([_device("grid", snmpd, interval=0.5)])
        await _until(lambda: len(polls) >= 8)
    finally:
        await scheduler.stop()
    phase = phase_of("grid", 0.5)
    on_grid = polls[1:]  # the first poll after start is spread, off the grid
    assert all(p.slot is not None for p in on_grid)
    slots = [p.slot for p in on_grid if p.slot is not None]
    assert all(abs((s - phase) / 0.5 - round((s - phase) / 0.5)) < 1e-6 for s in slots)
    assert [round(b - a, 6) for a, b in itertools.pairwise(slots)] == [0.5] * (
        len(slots) - 1
    )  # no drift: exact multiples of the interval, whatever each poll took
    assert all(p.on_time and p.timestamp == p.slot for p in on_grid)
    assert all(0 <= p.started - p.timestamp < 0.2 for p in on_grid)


async def test_a_poll_that_overruns_skips_slots_instead_of_shifting_them():
    polls: list[SnmpPoll] = []

    async def handle(poll: SnmpPoll) -> None:
        polls.append(poll)

    scheduler = PollScheduler(handle, concurrency=10, backoff_max=0.5)
    try:
        # each poll waits out a 0.8 s timeout: longer than the 0.5 s interval
        scheduler.update([_device("slow", 9, interval=0.5, timeout=0.8)])
        await _until(lambda: len(polls) >= 5)
    finally:
        await scheduler.stop()
    phase = phase_of("slow", 0.5)
    later = polls[2:]
    assert all(p.slot is not None for p in later)
    assert all(p.skipped_slots >= 1 for p in later)
    for poll in later:
        assert poll.slot is not None
        position = (poll.slot - phase) / 0.5
        assert abs(position - round(position)) < 1e-6  # still on the grid
    assert scheduler.health["slow"].skipped_slots >= len(later)


def test_next_slot_and_phase():
    phase = phase_of("core-1", 60)
    assert 0 <= phase < 60 and phase == phase_of("core-1", 60)  # stable across restarts
    assert phase_of("core-2", 60) != phase
    assert next_slot(phase + 60 * 10, 60, phase) == phase + 60 * 11  # strictly later
    assert next_slot(phase + 60 * 10 - 0.001, 60, phase) == phase + 60 * 10
