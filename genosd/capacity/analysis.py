"""Capacity over a window of days: each link's daily 95th percentiles (in and out) in one
table, fitted all at once, then ranked by growth and by when they cross the threshold."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from genosd.capacity.forecast import DAY, fit_many, nan_percentile


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
        self._samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending = 0

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

    def add_samples(
        self,
        devices: list[str],
        interfaces: list[str],
        times: np.ndarray,
        values: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Raw samples (one per row: device, interface, Unix time, in and out utilisation;
        NaN where absent), kept until `settle` turns them into daily p95 and maxima."""
        day = ((np.asarray(times, dtype=np.float64) - self.start) // DAY).astype(np.int32)
        keep = (day >= 0) & (day < self.days)
        pairs = list(zip(devices, interfaces, strict=True))
        if not keep.all():  # only links with a sample in the window become rows
            pairs = [pair for pair, kept in zip(pairs, keep.tolist(), strict=True) if kept]
        get = self.keys.get
        found = [get(pair) for pair in pairs]
        if None in found:  # links seen for the first time
            found = [
                self._row(*pair) if n is None else n for n, pair in zip(found, pairs, strict=True)
            ]
        self._samples.append(
            (
                np.asarray(found, dtype=np.int32),
                day[keep],
                np.asarray(values[0], dtype=np.float32)[keep],
                np.asarray(values[1], dtype=np.float32)[keep],
            )
        )
        self._pending += int(keep.sum())

    def settle(self, before_day: int | None = None) -> None:
        """Daily 95th percentiles (nearest rank) and maxima of the samples added so far: of
        every day, or (`before_day`) only of the days before it, whose samples are complete
        when they arrive in time order; the rest wait for the next call."""
        if not self._samples:
            return
        rows, days, ins, outs = (
            np.concatenate(parts) for parts in zip(*self._samples, strict=True)
        )
        self._samples, self._pending = [], 0
        if before_day is not None:
            later = days >= before_day
            if later.any():
                self._samples = [(rows[later], days[later], ins[later], outs[later])]
                self._pending = int(later.sum())
                done = ~later
                rows, days, ins, outs = rows[done], days[done], ins[done], outs[done]
        for direction, values in enumerate((ins, outs)):
            present = np.isfinite(values)
            key = rows[present].astype(np.int64) * self.days + days[present]
            value = values[present]
            if key.size == 0:
                continue
            order = np.lexsort((value, key))
            key, value = key[order], value[order]
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            sizes = np.diff(np.r_[starts, key.size])
            rank = starts + np.ceil(0.95 * sizes).astype(np.int64) - 1
            group = key[starts]
            row, day = group // self.days, group % self.days
            self._p95[direction, row, day] = value[rank]
            # a link's peak is its highest day's: fmax.at folds the repeated rows in
            np.fmax.at(self._max[direction], row, value[starts + sizes - 1])

    @property
    def pending(self) -> int:
        """Samples added and not settled yet."""
        return self._pending

    def __len__(self) -> int:
        return len(self.keys)

    def analyse(self, threshold: float, now: float | None = None) -> list[LinkCapacity]:
        """Every link's percentiles, trend and crossing of `threshold` (percent)."""
        self.settle()
        count = len(self.keys)
        if count == 0:
            return []
        now = time.time() if now is None else now
        today = (now - self.start) / DAY
        values = self._p95[:, :count, :].astype(np.float64)
        p50 = nan_percentile(values, 50)
        p95 = nan_percentile(values, 95)
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
