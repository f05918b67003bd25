"""Generate genosd's Grafana dashboards (grafana/dashboards/*.json) with Grafana's own dashboard
model (grafana-foundation-sdk, schema version 36): `python -m genosd.dashboards.build [DIR]`.

Every query is InfluxQL over the measurements, tags and fields of docs/metrics.md (Telegraf's
SNMP schema), so it reads InfluxDB 1.x, 2.x through DBRP mappings and 3.x; the dashboards pick
their InfluxDB data source from a variable (default: the provisioned `genosd-influxdb`). The
poller dashboard also reads genosd's own /metrics from Prometheus. Device, site, group and
interface variables filter every panel; device names link into genosd's web console.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.common import BigValueGraphMode

INFLUX = dm.DataSourceRef(type_val="influxdb", uid="${datasource}")
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="${prometheus}")
DEVICE_FILTER = '"device" =~ /^$device$/ AND "site" =~ /^$site$/ AND "group" =~ /^$group$/'  # an unset tag matches `.*` ("All"), so devices without a site or group still show
SCHEMA_VERSION = 36


@dataclass
class InfluxQL(variants.Dataquery):
    """A raw InfluxQL target."""

    ref_id: str
    query: str
    result_format: str = "time_series"
    alias: str = ""

    def to_json(self) -> dict[str, Any]:
        """The target as Grafana's InfluxDB data source stores it."""
        out: dict[str, Any] = {
            "refId": self.ref_id,
            "datasource": INFLUX.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


@dataclass
class PromQL(variants.Dataquery):
    """A PromQL target on genosd's /metrics."""

    ref_id: str
    expr: str
    legend: str = ""

    def to_json(self) -> dict[str, Any]:
        """The target as Grafana's Prometheus data source stores it."""
        return {
            "refId": self.ref_id,
            "datasource": PROMETHEUS.to_json(),
            "expr": self.expr,
            "legendFormat": self.legend or "__auto",
        }


class _Target(cogbuilder.Builder[variants.Dataquery]):
    """A builder of one target (the SDK's panels take builders)."""

    def __init__(self, query: variants.Dataquery):
        self.query = query

    def build(self) -> variants.Dataquery:
        return self.query


def influx(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> _Target:
    """An InfluxQL target."""
    return _Target(InfluxQL(ref, query, fmt, alias))


def prom(expr: str, legend: str = "", ref: str = "A") -> _Target:
    """A PromQL target."""
    return _Target(PromQL(ref, expr, legend))


def series(title: str, unit: str, *targets: _Target, width: int = 12) -> timeseries.Panel:
    """A time-series panel."""
    panel = timeseries.Panel().title(title).unit(unit).height(8).span(width).datasource(INFLUX)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def _variables(interface: bool, multi_device: bool = True) -> list[Any]:
    def tag_values(name: str, key: str, measurement: str = "snmp", where: str = "") -> Any:
        query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"' + where
        return (
            db.QueryVariable(name)
            .label(key)
            .datasource(INFLUX)
            .query(query)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .multi(multi_device or name != "device")
            .include_all(multi_device or name != "device")
            .all_value(".*")
        )

    found: list[Any] = [
        db.DatasourceVariable("datasource").label("InfluxDB").type("influxdb").regex(""),
        tag_values("site", "site"),
        tag_values("group", "group"),
        tag_values(
            "device", "device", where=' WHERE "site" =~ /^$site$/ AND "group" =~ /^$group$/'
        ),
    ]
    if interface:
        found.append(
            tag_values("interface", "ifName", "interface", ' WHERE "device" =~ /^$device$/')
        )
    found.append(
        db.TextBoxVariable("console").label("genosd URL").default_value("http://localhost:8470")
    )
    return found


def _board(uid: str, title: str, description: str, tags: list[str]) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["genosd", *tags])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
        .link(
            db.DashboardLink("genosd dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["genosd"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .link(
            db.DashboardLink("web console")
            .type(dm.DashboardLinkType.LINK)
            .url("${console}/")
            .target_blank(True)
        )
    )


# a trap's name and sender are tags: InfluxQL needs a field beside them (every trap has its uptime)
TRAPS = (
    'SELECT "sysUpTimeInstance", "name", "source", "device" FROM "snmp_trap" WHERE $timeFilter AND '
    '"device" =~ /^$device$/'
)


def _traps() -> db.AnnotationQuery:
    """SNMP traps of the selected devices as annotations (the query is added by `render`)."""
    return (
        db.AnnotationQuery().name("SNMP traps").datasource(INFLUX).enable(True).icon_color("orange")
    )


def overview() -> db.Dashboard:
    """Network overview: devices up/down, top talkers, top errors, worst compliance."""

    def answering(title: str, ok: bool) -> stat.Panel:
        """How many devices' newest poll was answered (or not)."""
        panel = stat.Panel().title(title)
        if not ok:
            panel = panel.no_value("0")  # none down shows 0, not "No data"
        return (
            panel.datasource(INFLUX)
            .height(5)
            .span(6)
            .graph_mode(BigValueGraphMode.NONE)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
            .with_target(
                influx(
                    'SELECT count("ok") FROM (SELECT last("success") AS "ok" FROM "genosd_poll" '
                    f'WHERE $timeFilter AND {DEVICE_FILTER} GROUP BY "device") '
                    f'WHERE "ok" = {"true" if ok else "false"}'
                )
            )
        )

    up = answering("Devices answering SNMP", True)
    down = answering("Devices not answering", False)
    polls = (
        table.Panel()
        .title("Devices: last poll")
        .datasource(INFLUX)
        .height(8)
        .span(12)
        .with_target(
            influx(
                'SELECT last("success") AS "answering", last("duration_ms") AS "poll ms", '
                'last("last_success") AS "last success" FROM "genosd_poll" WHERE $timeFilter AND '
                f'{DEVICE_FILTER} GROUP BY "device"',
                fmt="table",
            )
        )
    )
    talkers = (
        table.Panel()
        .title("Top talkers (peak bits/s in)")
        .datasource(INFLUX)
        .height(8)
        .span(12)
        .unit("bps")
        .with_target(
            influx(
                'SELECT top("in_bps", "device", "ifName", 10) AS "bits/s in" FROM "interface" '
                f"WHERE $timeFilter AND {DEVICE_FILTER}",
                fmt="table",
            )
        )
    )
    errors = (
        table.Panel()
        .title("Top interfaces by errors (peak errors/s in)")
        .datasource(INFLUX)
        .height(8)
        .span(12)
        .with_target(
            influx(
                'SELECT top("in_errors_rate", "device", "ifName", 10) AS "errors/s in" '
                f'FROM "interface" WHERE $timeFilter AND {DEVICE_FILTER}',
                fmt="table",
            )
        )
    )
    compliance = (
        table.Panel()
        .title("Compliance: newest score per device")
        .datasource(INFLUX)
        .height(8)
        .span(12)
        .with_target(
            influx(
                'SELECT last("score") AS "score", last("critical") AS "critical", '
                'last("major") AS "major" FROM "genosd_compliance" WHERE $timeFilter AND '
                f'{DEVICE_FILTER} GROUP BY "device"',
                fmt="table",
            )
        )
    )
    traffic = series(
        "Traffic, all selected devices (bits/s)",
        "bps",
        influx(
            'SELECT sum("in") AS "in", sum("out") AS "out" FROM (SELECT mean("in_bps") AS "in", '
            'mean("out_bps") AS "out" FROM "interface" WHERE $timeFilter AND '
            f'{DEVICE_FILTER} GROUP BY time($__interval), "device", "ifName") '
            "WHERE $timeFilter GROUP BY time($__interval)"
        ),
        width=24,
    )
    board = _board(
        "genosd-overview",
        "genosd: network overview",
        "Devices up and down, traffic, top talkers, top errors, worst compliance.",
        ["overview"],
    )
    for variable in _variables(interface=False):
        board = board.with_variable(variable)
    for panel in (up, down, polls, traffic, talkers, errors, compliance):
        board = board.with_panel(panel)
    return board.annotation(_traps())


def device() -> db.Dashboard:
    """One device: CPU, memory, uptime, per-interface traffic, errors, discards, status."""

    def per_interface(title: str, unit: str, a: str, b: str) -> timeseries.Panel:
        return series(
            title,
            unit,
            influx(
                f'SELECT mean("{a}") FROM "interface" WHERE $timeFilter AND {DEVICE_FILTER} AND '
                '"ifName" =~ /^$interface$/ GROUP BY time($__interval), "ifName"',
                alias=f"$tag_ifName {a.split('_')[0]}",
            ),
            influx(
                f'SELECT mean("{b}") FROM "interface" WHERE $timeFilter AND {DEVICE_FILTER} AND '
                '"ifName" =~ /^$interface$/ GROUP BY time($__interval), "ifName"',
                ref="B",
                alias=f"$tag_ifName {b.split('_')[0]}",
            ),
        )

    uptime = (
        stat.Panel()
        .title("Uptime")
        .datasource(INFLUX)
        .unit("s")
        .height(5)
        .span(6)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(
            influx(f'SELECT last("uptime") / 100 FROM "snmp" WHERE $timeFilter AND {DEVICE_FILTER}')
        )
    )
    cpu = series(
        "CPU load (%)",
        "percent",
        influx(
            'SELECT mean("load_percent") FROM "snmp_cpu" WHERE $timeFilter AND '
            f'{DEVICE_FILTER} GROUP BY time($__interval), "cpu"',
            alias="$tag_cpu",
        ),
        width=9,
    )
    memory = series(
        "Memory used (%)",
        "percent",
        influx(
            'SELECT mean("used_percent") FROM "snmp_mem" WHERE $timeFilter AND '
            f'{DEVICE_FILTER} GROUP BY time($__interval), "pool"',
            alias="$tag_pool",
        ),
        width=9,
    )
    status = (
        statetimeline.Panel()
        .title("Interface status (1 up, 2 down)")
        .datasource(INFLUX)
        .height(8)
        .span(24)
        .with_target(
            influx(
                'SELECT last("ifOperStatus") FROM "interface" WHERE $timeFilter AND '
                f'{DEVICE_FILTER} AND "ifName" =~ /^$interface$/ GROUP BY time($__interval), '
                '"ifName"',
                alias="$tag_ifName",
            )
        )
    )
    board = _board(
        "genosd-device",
        "genosd: device",
        "One device: uptime, CPU, memory, traffic, errors, discards and status per interface.",
        ["device"],
    )
    for variable in _variables(interface=True, multi_device=False):
        board = board.with_variable(variable)
    panels = [
        uptime,
        cpu,
        memory,
        per_interface("Traffic (bits/s)", "bps", "in_bps", "out_bps"),
        per_interface("Utilisation (%)", "percent", "in_utilization", "out_utilization"),
        per_interface("Errors (per second)", "pps", "in_errors_rate", "out_errors_rate"),
        per_interface("Discards (per second)", "pps", "in_discards_rate", "out_discards_rate"),
        status,
    ]
    for panel in panels:
        board = board.with_panel(panel)
    return board.annotation(_traps())


def interface() -> db.Dashboard:
    """One interface of one device, in detail."""

    def field(title: str, unit: str, *names: str) -> timeseries.Panel:
        targets = [
            influx(
                f'SELECT mean("{name}") FROM "interface" WHERE $timeFilter AND {DEVICE_FILTER} '
                'AND "ifName" =~ /^$interface$/ GROUP BY time($__interval)',
                ref=chr(ord("A") + n),
                alias=name,
            )
            for n, name in enumerate(names)
        ]
        return series(title, unit, *targets)

    board = _board(
        "genosd-interface",
        "genosd: interface",
        "One interface: traffic, packets, utilisation, errors, discards, status.",
        ["interface"],
    )
    for variable in _variables(interface=True, multi_device=False):
        board = board.with_variable(variable)
    for panel in (
        field("Traffic (bits/s)", "bps", "in_bps", "out_bps"),
        field("Packets (per second)", "pps", "in_pps", "out_pps"),
        field("Utilisation (%)", "percent", "in_utilization", "out_utilization"),
        field("Errors (per second)", "pps", "in_errors_rate", "out_errors_rate"),
        field("Discards (per second)", "pps", "in_discards_rate", "out_discards_rate"),
        field("Status (1 up, 2 down)", "none", "ifOperStatus", "ifAdminStatus"),
    ):
        board = board.with_panel(panel)
    return board.annotation(_traps())


def compliance() -> db.Dashboard:
    """Compliance scores and findings over time."""
    board = _board(
        "genosd-compliance",
        "genosd: compliance",
        "Compliance score per device over time, and findings by severity.",
        ["compliance"],
    )
    for variable in _variables(interface=False):
        board = board.with_variable(variable)
    score = series(
        "Score (0-100)",
        "none",
        influx(
            'SELECT last("score") FROM "genosd_compliance" WHERE $timeFilter AND '
            f'{DEVICE_FILTER} GROUP BY time($__interval), "device", "source" fill(previous)',
            alias="$tag_device ($tag_source)",
        ),
        width=24,
    )
    findings = series(
        "Findings by severity",
        "none",
        *[
            influx(
                f'SELECT sum("{severity}") FROM (SELECT last("{severity}") AS "{severity}" '
                f'FROM "genosd_compliance" WHERE $timeFilter AND {DEVICE_FILTER} '
                'GROUP BY time($__interval), "device") WHERE $timeFilter '
                "GROUP BY time($__interval)",
                ref=chr(ord("A") + n),
                alias=severity,
            )
            for n, severity in enumerate(("critical", "major", "minor", "info"))
        ],
        width=24,
    )
    return board.with_panel(score).with_panel(findings)


def poller() -> db.Dashboard:
    """The poller and the pipeline: poll durations, timeouts, lateness; spool, forwarding, LLM."""
    board = _board(
        "genosd-poller",
        "genosd: poller and pipeline",
        "Poll durations, timeouts and lateness (InfluxDB); the spool, forwarding and LLM usage "
        "(genosd's /metrics in Prometheus).",
        ["health"],
    )
    for variable in _variables(interface=False):
        board = board.with_variable(variable)
    board = board.with_variable(
        db.DatasourceVariable("prometheus").label("Prometheus").type("prometheus").regex("")
    )

    def poll(title: str, unit: str, query: str, where: str = "") -> timeseries.Panel:
        panel = series(
            title,
            unit,
            influx(
                f'SELECT {query} FROM "genosd_poll" WHERE $timeFilter AND {DEVICE_FILTER}{where} '
                'GROUP BY time($__interval), "device"',
                alias="$tag_device",
            ),
        )
        return panel.no_value("0") if where else panel

    def metric(title: str, unit: str, expr: str, legend: str) -> timeseries.Panel:
        return (
            timeseries.Panel()
            .title(title)
            .unit(unit)
            .height(8)
            .span(12)
            .datasource(PROMETHEUS)
            .with_target(prom(expr, legend))
        )

    for panel in (
        poll("Poll duration", "ms", 'mean("duration_ms")'),
        poll("Polls that timed out", "none", 'count("timeout")', ' AND "timeout" = true'),
        poll("Poll start lateness", "ms", 'max("slot_lag_ms")'),
        poll("Requests per poll", "none", 'mean("requests")'),
        metric(
            "Points spooled, not yet forwarded",
            "none",
            "genosd_store_pending_points",
            "pending",
        ),
        metric(
            "Forwarding",
            "none",
            "rate(genosd_sink_points_written_total[5m])",
            "written/s",
        ),
        metric(
            "LLM calls",
            "none",
            "sum by (model, result) (rate(genosd_llm_calls_total[5m]))",
            "{{model}} {{result}}",
        ),
        metric(
            "LLM tokens",
            "none",
            "sum by (model, direction) (rate(genosd_llm_tokens_total[5m]))",
            "{{model}} {{direction}}",
        ),
    ):
        board = board.with_panel(panel)
    return board


BOARDS = {
    "genosd-overview": overview,
    "genosd-device": device,
    "genosd-interface": interface,
    "genosd-compliance": compliance,
    "genosd-poller": poller,
}


def render(name: str) -> dict[str, Any]:
    """Dashboard `name` as Grafana's JSON model."""
    built = BOARDS[name]().build()
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(built))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    for annotation in data.get("annotations", {}).get("list", []):
        # Grafana's InfluxDB (InfluxQL) annotations keep their query beside the definition
        annotation["query"] = TRAPS
        annotation["textColumn"] = "name"
        annotation["tagsColumn"] = "source,device"
    return data


def write(directory: Path) -> list[Path]:
    """Every dashboard as `<uid>.json` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in BOARDS:
        path = directory / f"{name}.json"
        path.write_text(json.dumps(render(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("grafana/dashboards")
    for path in write(target):
        print(path)
