"""Per-second rates from SNMP counters: 32/64-bit wraps, reboots and discontinuities.

A counter that went down is a wrap only for a 32-bit counter whose device did not reboot; a reboot
is seen in sysUpTime going backwards (unless sysUpTime itself wrapped after 497 days). A 64-bit
counter going down is a discontinuity (reset, module swap): no rate for that sample.
"""

from __future__ import annotations

from dataclasses import dataclass

TICKS_WRAP = 1 << 32
UPTIME_SLACK_TICKS = 1500  # 15 s of scheduling and clock jitter between agent and poller


def device_rebooted(old_ticks: int, new_ticks: int, elapsed_s: float) -> bool:
    """True when sysUpTime went backwards for a reason other than its own 32-bit wrap."""
    if new_ticks >= old_ticks:
        return False
    expected = old_ticks + elapsed_s * 100
    wrapped_expectation = expected - TICKS_WRAP
    return abs(new_ticks - wrapped_expectation) > UPTIME_SLACK_TICKS + elapsed_s * 5


def counter_delta(old: int, new: int, bits: int) -> int | None:
    """Increase of a counter between two readings, or None when it cannot be known."""
    if new >= old:
        return new - old
    if bits == 32:
        return new + (1 << 32) - old
    return None


@dataclass
class _Reading:
    wall: float
    uptime: int
    values: dict[str, tuple[int, int]]


class CounterRates:
    """Remembers the last reading of each (device, row) and turns the next one into rates."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], _Reading] = {}
        self._uptime: dict[str, tuple[float, int]] = {}

    def observe_uptime(self, device: str, wall: float, uptime: int) -> bool:
        """Record a device's sysUpTime; True when it rebooted since the last poll."""
        previous = self._uptime.get(device)
        self._uptime[device] = (wall, uptime)
        if previous is None:
            return False
        return device_rebooted(previous[1], uptime, wall - previous[0])

    def rates(
        self,
        device: str,
        row: str,
        wall: float,
        uptime: int,
        values: dict[str, tuple[int, int]],
        rebooted: bool,
    ) -> dict[str, float]:
        """Per-second rates for `values` ({name: (reading, bits)}) since the last reading."""
        key = (device, row)
        previous = self._last.get(key)
        # plain ints, not the SMI int subclasses: the garbage collector then stops tracking the
        # kept readings (at 10,000 devices, 500,000 objects every full pass walked)
        kept = {name: (int(value), bits) for name, (value, bits) in values.items()}
        self._last[key] = _Reading(wall, uptime, kept)
        if previous is None or rebooted:
            return {}
        elapsed = wall - previous.wall
        if elapsed <= 0:
            return {}
        result: dict[str, float] = {}
        for name, (value, bits) in values.items():
            before = previous.values.get(name)
            if before is None or before[1] != bits:
                continue
            delta = counter_delta(before[0], value, bits)
            if delta is not None:
                result[name] = delta / elapsed
        return result

    def devices(self) -> set[str]:
        """Devices with remembered counters."""
        return set(self._uptime)

    def forget(self, device: str) -> None:
        """Drop a device's history (removed from inventory)."""
        self._uptime.pop(device, None)
        for key in [k for k in self._last if k[0] == device]:
            del self._last[key]
