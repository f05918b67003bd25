"""The arithmetic of capacity planning: percentiles, a least-squares trend over daily values,
and when that trend crosses a threshold.

The daily value is a day's 95th percentile of utilisation (the busy hour, not the average a link
spends mostly idle); the trend is fitted over the days of the window, so one bad day moves it
little and a steady growth shows as a slope in percentage points per day.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DAY = 86400.0


@dataclass(frozen=True)
class Trend:
    """A fitted line: value = intercept + slope * day, and how well it fits."""

    slope: float  # percentage points per day
    intercept: float  # at day 0 (the window's first day)
    r2: float
    days: int  # how many daily values it was fitted on


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation), None for no values."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if not clean:
        return None
    return float(np.percentile(np.asarray(clean, dtype=float), q))


def nan_percentile(values: np.ndarray, q: float) -> np.ndarray:
    """The q-th percentile along the last axis, NaNs left out (linear interpolation, as
    numpy's default); NaN where a row has no value. numpy's nanpercentile loops per row."""
    ordered = np.sort(values, axis=-1)  # NaNs sort last
    count = np.isfinite(values).sum(axis=-1)
    position = np.maximum(count - 1, 0) * (q / 100.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(count - 1, 0))
    below = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0]
    above = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0]
    found = below + (above - below) * (position - low)
    return np.where(count > 0, found, np.nan)


def fit(days: Sequence[float], values: Sequence[float]) -> Trend | None:
    """Least-squares line through (day, value); None below three finite points."""
    x = np.asarray(days, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or float(np.ptp(x)) == 0.0:
        return None
    mx, my = float(x.mean()), float(y.mean())
    dx = x - mx
    slope = float((dx * (y - my)).sum() / (dx * dx).sum())
    intercept = my - slope * mx
    residual = y - (intercept + slope * x)
    total = float(((y - my) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    return Trend(slope, intercept, r2, int(x.size))


def crossing(trend: Trend, threshold: float, today: float) -> float | None:
    """Days from `today` (a day number on the trend's axis) until the trend reaches
    `threshold`: 0 when it is there already, None when it never will (flat or falling)."""
    now = trend.intercept + trend.slope * today
    if now >= threshold:
        return 0.0
    if trend.slope <= 1e-9:
        return None
    return (threshold - now) / trend.slope


def fit_many(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of many series at once: `values` is series x days (NaN for a
    missing day); series with fewer than three days get NaN."""
    days = np.arange(values.shape[1], dtype=float)
    present = np.isfinite(values)
    count = present.sum(axis=1)
    x = np.where(present, days, 0.0)
    y = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = x.sum(axis=1) / count
        my = y.sum(axis=1) / count
        dx = np.where(present, days - mx[:, None], 0.0)
        slope = (dx * np.where(present, values - my[:, None], 0.0)).sum(axis=1) / (dx * dx).sum(
            axis=1
        )
        intercept = my - slope * mx
    slope[count < 3] = np.nan
    intercept[count < 3] = np.nan
    return slope, intercept
