"""The `health`, `capacity` and `reports` sections of genosd.yaml."""

from __future__ import annotations

from pydantic import Field

from genosd.settings_sections import _Section


class HealthSettings(_Section):
    """Health scores per device and group (docs/health.md)."""

    interval: float = Field(
        300.0, ge=0, le=86400, description="seconds between scores written to the metrics; 0: off"
    )
    source: str = Field(
        "auto",
        pattern=r"^(auto|influx|local)$",
        description="where the daemon's scores read metrics: auto (the local store, or InfluxDB "
        "without one), influx, local",
    )


class CapacitySettings(_Section):
    """Utilisation percentiles, trends and forecasts per link (docs/health.md)."""

    days: int = Field(30, ge=3, le=400, description="the window the trend is fitted over")
    threshold: float = Field(80.0, gt=0, le=100, description="utilisation % a link must not cross")
    horizon_days: float = Field(90.0, gt=0, le=3650, description="links crossing within are listed")
    measurement: str = Field(
        "interface",
        min_length=1,
        max_length=200,
        description="the InfluxDB measurement read: raw Telegraf-schema points or a rollup of "
        "them with the same fields and tags",
    )
    source: str = Field(
        "auto",
        pattern=r"^(auto|influx|local)$",
        description="auto: InfluxDB when influx.url is set, else the local store",
    )


class ReportSettings(_Section):
    """Where reports go (docs/reports.md)."""

    directory: str = Field(
        "reports", description="where scheduled reports are written (relative: under state_dir)"
    )
    keep: int = Field(90, ge=1, le=100_000, description="reports of each kind kept in `directory`")
