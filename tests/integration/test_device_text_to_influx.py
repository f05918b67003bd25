"""Device text that line protocol cannot carry as it is, from a real agent to a real InfluxDB 1.x.

A crafted snmpsim recording has a sysName with a newline, a multi-line sysDescr, an ifAlias
ending in a backslash and one with a newline in it: every point of the poll must arrive, with the
text as docs/metrics.md says.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from genosd.metrics.forwarder import Forwarder, ForwarderMetrics
from genosd.metrics.influx import make_sink
from genosd.metrics.rates import CounterRates
from genosd.metrics.store import MetricsStore
from genosd.metrics.telegraf import poll_to_points
from genosd.settings_sections import InfluxSettings
from tests.integration.test_snmp_poll import poll_recording
from tests.servers import InfluxV1


def _hex(text: str) -> str:
    return text.encode().hex()


SYS_DESCR = "Cisco IOS Software\r\nTechnical Support: x"
SYS_NAME = "core-1\nlab"
ALIAS_BACKSLASH = "to dc1 \\"
ALIAS_NEWLINE = "line one\nline two"
RECORDING = "\n".join(
    [
        "1.3.6.1.2.1.1.1.0|4x|" + _hex(SYS_DESCR),
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1",
        "1.3.6.1.2.1.1.3.0|67|123456",
        "1.3.6.1.2.1.1.5.0|4x|" + _hex(SYS_NAME),
        "1.3.6.1.2.1.2.2.1.2.1|4|Gi0/1",
        "1.3.6.1.2.1.2.2.1.2.2|4x|" + "Gi0/2 Zürich".encode("latin-1").hex(),  # not UTF-8
        "1.3.6.1.2.1.2.2.1.8.1|2|1",
        "1.3.6.1.2.1.2.2.1.8.2|2|1",
        "1.3.6.1.2.1.31.1.1.1.1.1|4|Gi0/1",
        "1.3.6.1.2.1.31.1.1.1.1.2|4|Gi0/2",
        "1.3.6.1.2.1.31.1.1.1.6.1|70|1000",
        "1.3.6.1.2.1.31.1.1.1.6.2|70|2000",
        "1.3.6.1.2.1.31.1.1.1.18.1|4x|" + _hex(ALIAS_BACKSLASH),
        "1.3.6.1.2.1.31.1.1.1.18.2|4x|" + _hex(ALIAS_NEWLINE),
    ]
)


async def test_text_that_needs_care_arrives_with_every_point(tmp_path: Path, influxdb: InfluxV1):
    data = tmp_path / "data"
    data.mkdir()
    (data / "odd.snmprec").write_text(RECORDING + "\n")
    poll = await poll_recording(tmp_path, data, "odd")
    # a string that is not UTF-8 is read as Latin-1 (every byte maps), counted and noted once
    assert poll.interfaces["2"]["ifDescr"] == "Gi0/2 Zürich" and poll.invalid_utf8 == 1
    assert poll.problems == ["ifDescr.2: not UTF-8, read as Latin-1"]
    points = poll_to_points(poll, CounterRates())
    store = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=1 << 24, retention_hours=1, forwarding=True
    )
    await store.open()
    sink = make_sink(InfluxSettings(url=influxdb.url, api="v1", database="telegraf"))
    assert sink is not None
    forwarder = Forwarder(
        store,
        sink,
        batch_size=100,
        flush_interval=0.1,
        retry_max_delay=1,
        metrics=ForwarderMetrics(CollectorRegistry()),
    )
    try:
        await store.append(points)
        while await forwarder.flush_once():
            pass
        assert store.pending_points == 0
    finally:
        await sink.close()
        await store.close()

    [snmp] = influxdb.query('SELECT "hostname", "sysDescr", "uptime" FROM "snmp"')
    assert snmp[1:] == ["core-1 lab", "Cisco IOS Software Technical Support: x", 123456]
    aliases = influxdb.query(
        'SELECT "ifName", "ifAlias", "ifHCInOctets", "hostname" FROM interface'
    )
    assert sorted(row[1:] for row in aliases) == [
        ["Gi0/1", "to dc1 \uff3c", 1000, "core-1 lab"],
        ["Gi0/2", "line one line two", 2000, "core-1 lab"],
    ]
    measurements = influxdb.query("SHOW MEASUREMENTS")
    assert sorted(m[0] for m in measurements) == ["interface", "snmp"]  # nothing made up
