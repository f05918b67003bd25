"""Capacity over a window of days: each link's daily 95th percentiles (in and out) in one
table, fitted all at once, then ranked by growth and by when they cross the threshold."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from genosd.capacity.forecast import DAY, fit_many


@dataclass(frozen=True)
class LinkCapacity:
    """One link's utilisation over the window and where it is heading (the busier direction)."""

    device: str
    interface: str
    direction: str  # in | out: the direction with the higher window p95
    p50: float | None  # percentiles of the daily 95th percentiles over the window
    p95: float | None
    peak: float | None  # the highest value seen in the window
    slope_per_day: float | None  # percentage points per day
    now: float | None  # the trend's value today
    days_to_threshold: float | None  # 0: there already; None: not heading there
    crosses_on: str | None  # the date, UTC
    days: int  # days with data


class DailyTable:
    """Daily p95 and max utilisation per link and direction, filled row by row."""

    def __init__(self, start: float, days: int, capacity: int = 1024):
        self.start = start - start % DAY  # midnight UTC of the first day
        self.days = days
        self.keys: dict[tuple[str, str], int] = {}
        self._p95 = np.full((2, capacity, days), np.nan, dtype=np.float32)
        self._max = np.full((2, capacity), np.nan, dtype=np.float32)

    def _row(self, device: str, interface: str) -> int:
        key = (device, interface)
        row = self.keys.get(key)
        if row is None:
            row = self.keys[key] = len(self.keys)
            if row >= self._p95.shape[1]:
                grow = self._p95.shape[1]
                self._p95 = np.concatenate(
                    [self._p95, np.full((2, grow, self.days), np.nan, dtype=np.float32)], axis=1
                )
                self._max = np.concatenate(
                    [self._max, np.full((2, grow), np.nan, dtype=np.float32)], axis=1
                )
        return row

    def add(
        self,
        device: str,
        interface: str,
        day_start: float,
        p95: tuple[float | None, float | None],
        peak: tuple[float | None, float | None],
    ) -> None:
        """One day of one link: (in, out) 95th percentiles and maxima."""
        day = int((day_start - self.start) // DAY)
        if not 0 <= day < self.days:
            return
        row = self._row(device, interface)
        for direction in (0, 1):
            value = p95[direction]
            if value is not None:
                self._p95[direction, row, day] = value
            high = peak[direction]
            if high is not None and not (self._max[direction, row] >= high):
                self._max[direction, row] = high

    def __len__(self) -> int:
        return len(self.keys)

    def analyse(self, threshold: float, now: float | None = None) -> list[LinkCapacity]:
        """Every link's percentiles, trend and crossing of `threshold` (percent)."""
        count = len(self.keys)
        if count == 0:
            return []
        now = time.time() if now is None else now
        today = (now - self.start) / DAY
        values = self._p95[:, :count, :].astype(np.float64)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                p50 = np.nanpercentile(values, 50, axis=2)
                p95 = np.nanpercentile(values, 95, axis=2)
        busier = np.where(np.nan_to_num(p95[1], nan=-1) > np.nan_to_num(p95[0], nan=-1), 1, 0)
        rows = np.arange(count)
        chosen = values[busier, rows, :]
        slope, intercept = fit_many(chosen)
        current = intercept + slope * (today - 0.5)  # each day's value sits at its middle
        with np.errstate(all="ignore"):
            ahead = np.where(
                current >= threshold,
                0.0,
                np.where(slope > 1e-9, (threshold - current) / slope, np.nan),
            )
        days_present = np.isfinite(chosen).sum(axis=1)
        peaks = self._max[busier, rows]
        found = []
        for (device, interface), row in self.keys.items():
            days_to = _num(ahead[row])
            found.append(
                LinkCapacity(
                    device,
                    interface,
                    "out" if busier[row] else "in",
                    _num(p50[busier[row], row]),
                    _num(p95[busier[row], row]),
                    _num(peaks[row]),
                    _num(slope[row]),
                    _num(current[row]),
                    days_to,
                    None
                    if days_to is None
                    else time.strftime("%Y-%m-%d", time.gmtime(now + days_to * DAY)),
                    int(days_present[row]),
                )
            )
        return found


def _num(value: float) -> float | None:
    number = float(value)
    return None if math.isnan(number) else round(number, 4)


def top_growth(links: list[LinkCapacity], limit: int) -> list[LinkCapacity]:
    """The links growing fastest (percentage points per day)."""
    growing = [x for x in links if x.slope_per_day is not None and x.slope_per_day > 0]
    return sorted(growing, key=lambda x: x.slope_per_day or 0, reverse=True)[:limit]


def crossing_within(links: list[LinkCapacity], days: float) -> list[LinkCapacity]:
    """Links at or heading over the threshold within `days`, soonest first."""
    soon = [x for x in links if x.days_to_threshold is not None and x.days_to_threshold <= days]
    return sorted(soon, key=lambda x: (x.days_to_threshold or 0, -(x.p95 or 0)))
