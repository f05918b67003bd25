"""Writing to real servers: InfluxDB 1.x /write and VictoriaMetrics /api/v2/write; outage and replay."""

import asyncio
import time
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from genosd.metrics.forwarder import Forwarder, ForwarderMetrics
from genosd.metrics.influx import make_sink
from genosd.metrics.model import Point
from genosd.metrics.store import MetricsStore
from genosd.settings_sections import InfluxSettings
from tests.servers import free_tcp_port


def _points(start: int, count: int) -> list[Point]:
    base = 1_700_000_000_000_000_000
    return [
        Point(
            "interface",
            {"agent_host": "10.0.0.1", "hostname": "sw1", "ifName": "Gi0/1", "device": "sw1"},
            {"ifHCInOctets": i, "in_bps": float(i)},
            base + i * 1_000_000_000,
        )
        for i in range(start, start + count)
    ]


async def _pipeline(tmp_path: Path, settings: InfluxSettings) -> tuple[MetricsStore, Forwarder]:
    store = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=64 * 1024 * 1024, retention_hours=1, forwarding=True
    )
    await store.open()
    sink = make_sink(settings)
    assert sink is not None
    forwarder = Forwarder(
        store,
        sink,
        batch_size=500,
        flush_interval=0.2,
        retry_max_delay=0.5,
        metrics=ForwarderMetrics(CollectorRegistry()),
    )
    return store, forwarder


async def _until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.3)
    raise AssertionError("condition not reached")


async def test_influxdb_v1_write_reads_back_with_influxql(tmp_path, influxdb):
    store, forwarder = await _pipeline(
        tmp_path, InfluxSettings(url=influxdb.url, api="v1", database="telegraf")
    )
    task = asyncio.create_task(forwarder.run())
    await store.append(_points(0, 1200))
    forwarder.notify()
    await _until(lambda: asyncio.sleep(0, result=store.pending_points == 0))
    task.cancel()
    rows = influxdb.query('SELECT "ifHCInOctets" FROM "interface" WHERE "ifName" = \'Gi0/1\'')
    assert [r[1] for r in rows] == list(range(1200))
    await forwarder.sink.close()
    await store.close()


async def test_every_point_arrives_exactly_once_across_an_influxdb_outage(tmp_path, influxdb):
    store, forwarder = await _pipeline(tmp_path, InfluxSettings(url=influxdb.url, api="v1"))
    task = asyncio.create_task(forwarder.run())
    await store.append(_points(0, 300))
    await _until(lambda: asyncio.sleep(0, result=store.pending_points == 0))
    influxdb.stop()
    for chunk in range(5):
        await store.append(_points(300 + chunk * 200, 200))
        forwarder.notify()
        await asyncio.sleep(0.3)
    assert store.pending_points == 1000 and not forwarder.healthy
    influxdb.start()
    await _until(lambda: asyncio.sleep(0, result=store.pending_points == 0), timeout=60)
    task.cancel()
    values = [r[1] for r in influxdb.query('SELECT "ifHCInOctets" FROM "interface"')]
    assert values == list(range(1300))  # in order, none missing, none twice
    await forwarder.sink.close()
    await store.close()


async def test_spool_survives_a_restart_and_is_bounded(tmp_path):
    store = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=1024 * 1024, retention_hours=1, forwarding=True
    )
    await store.open()
    for i in range(0, 30_000, 1000):
        await store.append(_points(i, 1000))
    assert store.pending_bytes <= 1024 * 1024
    dropped = await store.dropped_total()
    assert dropped > 0 and store.pending_points + dropped == 30_000
    assert store.dropped_points == dropped
    kept = store.pending_points
    # the drops reach /metrics through the forwarder, even while its sink is down
    registry = CollectorRegistry()
    dead_sink = make_sink(InfluxSettings(url=f"http://127.0.0.1:{free_tcp_port()}", api="v1"))
    assert dead_sink is not None
    forwarder = Forwarder(
        store,
        dead_sink,
        batch_size=500,
        flush_interval=0.2,
        retry_max_delay=0.5,
        metrics=ForwarderMetrics(registry),
    )
    task = asyncio.create_task(forwarder.run())
    await _until(lambda: asyncio.sleep(0, result=not forwarder.healthy))
    task.cancel()
    assert registry.get_sample_value("genosd_spool_dropped_points_total") == dropped
    assert registry.get_sample_value("genosd_spool_points") == kept
    await forwarder.sink.close()
    await store.close()
    reopened = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=1024 * 1024, retention_hours=1, forwarding=True
    )
    await reopened.open()
    assert reopened.pending_points == kept
    batch = await reopened.pending(1)
    assert batch.lines[0].endswith(
        str(1_700_000_000_000_000_000 + dropped * 1_000_000_000)
    )  # oldest kept first
    await reopened.close()


async def test_victoria_metrics_accepts_the_v2_write_api(tmp_path, victoria):
    store, forwarder = await _pipeline(
        tmp_path, InfluxSettings(url=victoria, api="v2", token="unused", org="o", bucket="b")
    )
    now = time.time_ns()
    points = [
        Point(
            "interface",
            {"hostname": "sw1", "ifName": f"Gi0/{i}", "device": "sw1"},
            {"ifHCInOctets": i * 100},
            now,
        )
        for i in range(50)
    ]
    await store.append(points)
    await forwarder.flush_once()
    assert store.pending_points == 0

    async def visible():
        r = httpx.post(
            victoria + "/api/v1/export", data={"match[]": '{__name__="interface_ifHCInOctets"}'}
        )
        return r.status_code == 200 and len(r.text.strip().splitlines()) == 50

    await _until(visible)
    await forwarder.sink.close()
    await store.close()
