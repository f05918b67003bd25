"""The forwarder against an HTTP server that refuses for a while: back-off, order, nothing lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from genosd.metrics.forwarder import Forwarder, ForwarderMetrics, retry_delay
from genosd.metrics.influx import make_sink
from genosd.metrics.model import Point
from genosd.metrics.store import MetricsStore
from genosd.settings_sections import InfluxSettings
from tests.servers import free_tcp_port


def test_retry_delay_doubles_from_one_second_and_stops_at_the_cap():
    assert [retry_delay(n, 30.0) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert retry_delay(1000, 30.0) == 30.0  # no overflow after a week of outage
    assert retry_delay(1, 0.2) == 0.2


class FlakyInflux:
    """An InfluxDB 1.x /write that answers 503 to the first `failures` writes."""

    def __init__(self, failures: int):
        self.failures = failures
        self.attempts: list[float] = []
        self.lines: list[str] = []

    async def write(self, request: web.Request) -> web.Response:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.failures:
            return web.Response(status=503, text="overloaded")
        self.lines.extend((await request.text()).splitlines())
        return web.Response(status=204)


def _points(count: int) -> list[Point]:
    return [
        Point("interface", {"device": "sw1", "ifName": "Gi0/1"}, {"ifHCInOctets": i}, i)
        for i in range(count)
    ]


async def test_a_refusing_server_is_retried_with_growing_delays_and_gets_every_point(
    tmp_path: Path,
):
    port = free_tcp_port()
    server = FlakyInflux(failures=3)
    app = web.Application()
    app.router.add_post("/write", server.write)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    store = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=1 << 24, retention_hours=1, forwarding=True
    )
    await store.open()
    settings = InfluxSettings(url=f"http://127.0.0.1:{port}", api="v1")
    sink = make_sink(settings)
    assert sink is not None
    registry = CollectorRegistry()
    metrics = ForwarderMetrics(registry)
    forwarder = Forwarder(
        store, sink, batch_size=100, flush_interval=0.1, retry_max_delay=2.0, metrics=metrics
    )
    await store.append(_points(250))
    task = asyncio.create_task(forwarder.run())
    try:
        deadline = time.monotonic() + 30
        while len(server.lines) < 250:
            assert time.monotonic() < deadline, f"{len(server.lines)} of 250 delivered"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sink.close()
        await store.close()
        await runner.cleanup()
    # in order, each once
    assert [int(line.split("ifHCInOctets=")[1].split("i")[0]) for line in server.lines] == list(
        range(250)
    )
    gaps = [b - a for a, b in zip(server.attempts, server.attempts[1:4], strict=False)]
    # jitter draws each delay from [half, all] of 1 s, 2 s, then the 2 s cap
    assert 0.45 <= gaps[0] <= 1.5 and 0.95 <= gaps[1] <= 2.5 and 0.95 <= gaps[2] <= 2.5
    assert forwarder.healthy and forwarder.last_error is None
    failures = registry.get_sample_value(
        "genosd_sink_write_failures_total", {"reason": "server_error"}
    )
    assert failures == 3
