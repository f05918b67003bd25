"""Capacity arithmetic against series whose answer is known, health scores and their reasons,
and reports rendered safely."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from genosd.capacity.analysis import DailyTable, crossing_within, top_growth
from genosd.capacity.forecast import DAY, crossing, fit, fit_many, nan_percentile, percentile
from genosd.capacity.sources import add_points
from genosd.health.scores import Inputs, group_scores, score
from genosd.metrics.model import Point
from genosd.reports.model import Chart, Report, Table
from genosd.reports.render import render

NOW = 1_790_000_000.0  # a fixed "now" (2026-09-21), so dates are reproducible


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("slope", "start", "noise"), [(0.8, 30.0, 1.0), (0.25, 50.0, 0.5)])
def test_the_forecast_of_a_known_slope_is_within_ten_percent(
    seed: int, slope: float, start: float, noise: float
):
    days = 30
    rng = np.random.default_rng(seed)
    table = DailyTable(NOW - (days - 1) * DAY, days)
    points = []
    for day in range(days):
        value = start + slope * (day + 0.5) + rng.normal(0, noise)
        noon = int((table.start + day * DAY + DAY / 2) * 1e9)
        fields: dict[str, float | int | str | bool] = {
            "in_utilization": value,
            "out_utilization": value / 3,
        }
        points.append(Point("interface", {"ifName": "Gi0/1"}, fields, noon))
    add_points(table, "r1", points)  # the local store's way in
    [link] = table.analyse(80.0, NOW)
    today = (NOW - table.start) / DAY
    truth = (80.0 - (start + slope * today)) / slope
    assert link.direction == "in" and link.days == days
    assert link.slope_per_day == pytest.approx(slope, rel=0.10)
    assert link.days_to_threshold == pytest.approx(truth, rel=0.10)
    assert link.crosses_on is not None


def test_flat_falling_and_already_over():
    trend = fit(range(10), [50.0] * 10)
    assert trend is not None and trend.slope == pytest.approx(0.0)
    assert crossing(trend, 80, 10) is None
    falling = fit(range(10), [60 - d for d in range(10)])
    assert falling is not None and crossing(falling, 80, 10) is None
    over = fit(range(10), [85 + d for d in range(10)])
    assert over is not None and crossing(over, 80, 10) == 0.0
    assert fit([1, 2], [3, 4]) is None  # two points are not a trend
    assert percentile([1, 2, 3, 4, None, float("nan")], 50) == 2.5


def test_row_percentiles_match_numpy():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 100, size=(40, 30))
    values[rng.uniform(size=values.shape) < 0.3] = np.nan
    values[7, :] = np.nan
    for q in (50, 95, 99):
        ours = nan_percentile(values, q)
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            theirs = np.nanpercentile(values, q, axis=1)
        assert np.allclose(ours, theirs, equal_nan=True)


def test_many_series_fit_like_one():
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 100, size=(50, 30))
    values[3, :28] = np.nan  # two days only: no trend
    values[5, ::2] = np.nan  # every other day: still a trend
    slopes, intercepts = fit_many(values)
    assert math.isnan(slopes[3])
    for row in (0, 5, 17):
        present = ~np.isnan(values[row])
        one = fit(np.arange(30)[present], values[row][present])
        assert one is not None
        assert slopes[row] == pytest.approx(one.slope) and intercepts[row] == pytest.approx(
            one.intercept
        )


def test_ranking_growth_and_crossings():
    days = 14
    table = DailyTable(NOW - (days - 1) * DAY, days)
    for name, start, slope in (
        ("fast", 40, 2.0),
        ("slow", 40, 0.2),
        ("over", 90, 0.0),
        ("down", 60, -1),
    ):
        add_points(
            table,
            "r1",
            [
                Point("interface", {"ifName": name}, {"in_utilization": start + slope * day},
                      int((table.start + day * DAY) * 1e9))
                for day in range(days)
            ],
        )  # fmt: skip
    links = table.analyse(80, NOW)
    assert [x.interface for x in top_growth(links, 10)] == ["fast", "slow"]
    soon = crossing_within(links, 90)
    assert [x.interface for x in soon] == ["over", "fast"]
    assert soon[0].days_to_threshold == 0.0
    outside = DailyTable(NOW - 2 * DAY, 3)
    old = Point("interface", {"ifName": "x"}, {"in_utilization": 10.0}, int((NOW - 40 * DAY) * 1e9))
    add_points(outside, "r1", [old])  # before the window: ignored
    outside.settle()
    assert len(outside) == 0


def test_scores_say_what_lowered_them():
    healthy = score(
        Inputs("ok", reachable=True, cpu_percent=20, memory_percent=40, error_rate=0,
               interfaces_down=0, compliance=100, backup_age_days=0.5, backup_expected=True)
    )  # fmt: skip
    assert healthy.score == 100 and healthy.reasons == []
    sick = score(
        Inputs("sick", reachable=True, cpu_percent=94, memory_percent=50, error_rate=9,
               interfaces_down=1, compliance=60, backup_age_days=None, backup_expected=True)
    )  # fmt: skip
    assert sick.score < 70
    assert sick.reasons[0].startswith("never backed up (-")
    assert any(r.startswith("CPU at 94%") for r in sick.reasons)
    assert any("9 interface errors/s, 1 enabled interface down" in r for r in sick.reasons)
    down = score(Inputs("down", reachable=False, reach_error="timeout"))
    assert down.score == 0 and down.reasons == ["unreachable: timeout (-100)"]
    assert "cpu" in down.unknown and "backup" in down.unknown
    blank = score(Inputs("new"))
    assert math.isnan(blank.score)
    groups = {
        g.group: g
        for g in group_scores(
            [healthy, sick, down, blank], {"ok": ("core",), "sick": ("core",), "down": ("edge",)}
        )
    }
    assert groups["core"].devices == 2 and groups["core"].worst == "sick"
    assert groups["all"].devices == 3 and groups["all"].poor == 2
    assert groups["edge"].reasons[0].startswith("down 0: unreachable")


def test_reports_escape_what_they_show_and_csv_is_the_main_table():
    report = Report(
        "health",
        "Health <script>alert(1)</script>",
        NOW,
        {"fleet_score": 71.5},
        [
            Chart("per group", "bar", ["<b>core</b>", "edge"], {"score": [90.0, None]}, limit=70),
            Chart(
                "per day", "line", ["a", "b", "c"], {"x": [1.0, 2.0, None], "y": [0.0, 0.0, 1.0]}
            ),
        ],
        [
            Table(
                "Devices",
                ["device", "why"],
                [["r1", ["CPU at 94%", "never backed up"]], ["r,2", None]],
            )
        ],
    )
    page = render(report, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;core" in page
    assert page.count("<rect class=bar") == 1 and page.count("<polyline class=series") == 2
    assert "<line class=limit" in page
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    assert rows == [["device", "why"], ["r1", "CPU at 94%; never backed up"], ["r,2", ""]]
    assert '"fleet_score": 71.5' in render(report, "json")


def test_raw_samples_fold_into_daily_percentiles_in_steps_or_at_once():
    rng = np.random.default_rng(11)
    days, count = 5, 4000
    start = NOW - (days - 1) * DAY
    times = np.sort(rng.uniform(start - start % DAY, NOW, size=count))
    links = rng.integers(0, 6, size=count)
    ins = rng.uniform(0, 100, size=count)
    outs = np.where(rng.uniform(size=count) < 0.1, np.nan, rng.uniform(0, 50, size=count))
    devices = [f"r{n % 2}" for n in links]
    names = [f"Gi0/{n}" for n in links]
    whole, stepwise = DailyTable(start, days), DailyTable(start, days)
    whole.add_samples(devices, names, times, (ins, outs))
    for part in np.array_split(np.arange(count), 7):
        stepwise.add_samples(
            [devices[i] for i in part],
            [names[i] for i in part],
            times[part],
            (ins[part], outs[part]),
        )
        stepwise.settle(before_day=int((times[part[-1]] - stepwise.start) // DAY))
    a, b = whole.analyse(80, NOW), stepwise.analyse(80, NOW)
    assert a == b and len(a) == 6
    # the nearest-rank 95th percentile of one link's first day, by hand
    first = (links == 0) & (times < whole.start + DAY)
    ranked = np.sort(ins[first].astype(np.float32))
    expected = ranked[int(np.ceil(0.95 * ranked.size)) - 1]
    assert whole._p95[0, whole.keys[("r0", "Gi0/0")], 0] == expected
