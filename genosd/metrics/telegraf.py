"""Collector results -> points in Telegraf's SNMP schema, plus derived rate fields.

Measurements (see docs/metrics.md): `snmp` (system: uptime), `interface` (IF-MIB, MIB-named fields,
tags agent_host/hostname/ifIndex/ifName/ifDescr/ifAlias), `snmp_cpu`, `snmp_mem`, and
`genosd_poll` (the poller's own health per device). Devices without SNMP get `interface` points
from their parsed `show interfaces` (SSH facts).
"""

from __future__ import annotations

from typing import Any

from genosd.collectors.facts import FactsResult
from genosd.collectors.snmp import SnmpPoll
from genosd.collectors.snmp_mibs import COLUMN_BY_NAME, COUNTER_BITS
from genosd.metrics.model import FieldValue, Point
from genosd.metrics.rates import CounterRates

_RATE_FIELDS = {
    # derived field: (64-bit source, 32-bit source, multiplier)
    "in_bps": ("ifHCInOctets", "ifInOctets", 8.0),
    "out_bps": ("ifHCOutOctets", "ifOutOctets", 8.0),
    "in_pps": ("ifHCInUcastPkts", "ifInUcastPkts", 1.0),
    "out_pps": ("ifHCOutUcastPkts", "ifOutUcastPkts", 1.0),
    "in_errors_rate": ("ifInErrors", "ifInErrors", 1.0),
    "out_errors_rate": ("ifOutErrors", "ifOutErrors", 1.0),
    "in_discards_rate": ("ifInDiscards", "ifInDiscards", 1.0),
    "out_discards_rate": ("ifOutDiscards", "ifOutDiscards", 1.0),
}
_TAG_COLUMNS = ("ifName", "ifDescr", "ifAlias")


def _speed_bps(row: dict[str, int | str]) -> float | None:
    high = row.get("ifHighSpeed")
    if isinstance(high, int) and high > 0:
        return high * 1_000_000.0
    speed = row.get("ifSpeed")
    if isinstance(speed, int) and 0 < speed < 0xFFFFFFFF:
        return float(speed)
    return None


def health_point(poll: SnmpPoll, hostname: str, last_success: float | None) -> Point:
    """The poller's own record of this poll."""
    fields: dict[str, FieldValue] = {
        "duration_ms": round(poll.duration * 1000, 3),
        "success": poll.ok,
        "timeout": poll.timed_out,
        "requests": poll.requests,
        "varbinds": poll.varbinds,
        "invalid_values": len(poll.problems),
    }
    if poll.error:
        fields["error"] = poll.error[:500]
    if last_success is not None:
        fields["last_success"] = last_success
    if poll.slot is not None:
        fields["slot_lag_ms"] = round((poll.started - poll.slot) * 1000, 1)
        fields["on_time"] = poll.on_time
    if poll.skipped_slots:
        fields["skipped_slots"] = poll.skipped_slots
    if poll.invalid_utf8:
        fields["invalid_utf8"] = poll.invalid_utf8
    if poll.narrow_counters:
        fields["counter32_in_counter64"] = len(poll.narrow_counters)
    tags = {
        "agent_host": poll.address,
        "hostname": hostname,
        "device": poll.device,
        "collector": "snmp",
    }
    return Point("genosd_poll", tags, fields, int(poll.timestamp * 1e9))


def poll_to_points(poll: SnmpPoll, rates: CounterRates) -> list[Point]:
    """Telegraf-schema points of a successful poll, with rates from the previous one."""
    if not poll.ok:
        return []
    ts = int(poll.timestamp * 1e9)  # the slot's time when on time (rates use the real times)
    hostname = str(poll.system.get("sysName") or poll.device)
    base = {"agent_host": poll.address, "hostname": hostname, "device": poll.device}
    uptime = int(poll.system["sysUpTime"])
    points = [
        Point(
            "snmp",
            dict(base),
            {
                "uptime": uptime,
                "sysDescr": str(poll.system.get("sysDescr", "")),
                "sysObjectID": str(poll.system.get("sysObjectID", "")),
            },
            ts,
        )
    ]
    rebooted = rates.observe_uptime(poll.device, poll.started, uptime)
    for index, row in poll.interfaces.items():
        tags = {**base, "ifIndex": index}
        tags.update({k: str(row[k]) for k in _TAG_COLUMNS if k in row})
        fields: dict[str, FieldValue] = {
            k: v for k, v in row.items() if k not in _TAG_COLUMNS and isinstance(v, int)
        }
        counters = {
            k: (
                v,
                32 if (index, k) in poll.narrow_counters else COUNTER_BITS[COLUMN_BY_NAME[k].kind],
            )
            for k, v in fields.items()
            if isinstance(v, int) and COLUMN_BY_NAME[k].kind in COUNTER_BITS
        }
        per_second = rates.rates(poll.device, index, poll.counters_at, uptime, counters, rebooted)
        for derived, (wide, narrow, factor) in _RATE_FIELDS.items():
            source = wide if wide in per_second else narrow
            if source in per_second:
                fields[derived] = per_second[source] * factor
        speed = _speed_bps(row)
        if speed:
            for direction in ("in", "out"):
                bps = fields.get(f"{direction}_bps")
                if isinstance(bps, float):
                    fields[f"{direction}_utilization"] = min(100.0, bps / speed * 100)
        if fields:
            points.append(Point("interface", tags, fields, ts))
    for cpu in poll.cpu:
        points.append(
            Point(
                "snmp_cpu",
                {**base, "cpu": cpu.name, "source": cpu.source},
                {"load_percent": cpu.load_percent},
                ts,
            )
        )
    for pool in poll.memory:
        mem_fields: dict[str, FieldValue] = {}
        if pool.used_bytes is not None:
            mem_fields["used_bytes"] = pool.used_bytes
        if pool.total_bytes:
            mem_fields["total_bytes"] = pool.total_bytes
            if pool.used_bytes is not None:
                mem_fields["used_percent"] = pool.used_bytes / pool.total_bytes * 100
        if pool.used_percent is not None:
            mem_fields["used_percent"] = pool.used_percent
        if mem_fields:
            points.append(
                Point(
                    "snmp_mem", {**base, "pool": pool.name, "source": pool.source}, mem_fields, ts
                )
            )
    for sample in poll.tables:  # MIB profiles: measurement = the table's name, as in Telegraf
        table_fields: dict[str, FieldValue] = dict(sample.fields)
        if sample.measurement == "snmp_mem" and "used_percent" not in table_fields:
            used, total = table_fields.get("used_bytes"), table_fields.get("total_bytes")
            if isinstance(used, int | float) and isinstance(total, int | float) and total:
                table_fields["used_percent"] = used / total * 100
        points.append(Point(sample.measurement, {**base, **sample.tags}, table_fields, ts))
    return points


def _status(text: str) -> int:
    return 1 if text == "up" else 2


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def facts_to_points(result: FactsResult, address: str) -> list[Point]:
    """`interface` points from parsed `show interfaces` (for devices SNMP does not poll)."""
    points = []
    when = int(result.collected_at * 1e9)
    for row in result.facts.get("interfaces", []):
        name = str(row.get("interface", ""))
        if not name:
            continue
        link = str(row.get("link_status", ""))
        fields: dict[str, FieldValue] = {
            "ifOperStatus": _status(str(row.get("protocol_status", ""))),
            "ifAdminStatus": 2 if "administratively" in link else 1,
        }
        for source, target in (
            ("input_errors", "ifInErrors"),
            ("output_errors", "ifOutErrors"),
            ("input_packets", "ifInUcastPkts"),
            ("output_packets", "ifOutUcastPkts"),
            ("input_rate", "in_bits_per_second"),
            ("output_rate", "out_bits_per_second"),
        ):
            value = _int(row.get(source))
            if value is not None:
                fields[target] = value
        tags = {
            "device": result.device,
            "agent_host": address,
            "hostname": result.device,
            "ifName": name,
            "ifDescr": name,
            "ifAlias": str(row.get("description", "")),
            "source": "ssh",
        }
        points.append(Point("interface", tags, fields, when))
    return points
