"""A clean stop does not send a batch twice; when it must (a server that never answers), the
re-send is byte-identical, which InfluxDB overwrites and VictoriaMetrics deduplicates when started
with -dedup.minScrapeInterval (docs/metrics.md)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from genosd.metrics.model import Point
from genosd.metrics.pipeline import DRAIN_SECONDS, MetricsPipeline
from genosd.settings_sections import InfluxSettings, StoreSettings
from tests.servers import free_tcp_port, start_victoria

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


class SlowInflux:
    """An InfluxDB 1.x /write that reads the batch, then answers after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: list[str] = []
        self.answered: list[str] = []
        self.writing = asyncio.Event()

    async def write(self, request: web.Request) -> web.Response:
        lines = (await request.text()).splitlines()
        self.received.extend(lines)
        self.writing.set()
        await asyncio.sleep(self.delay)
        self.answered.extend(lines)
        return web.Response(status=204)


async def _serve(server: SlowInflux) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/write", server.write)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def _pipeline(tmp_path: Path, url: str) -> MetricsPipeline:
    influx = InfluxSettings(url=url, api="v1", flush_interval=0.1, timeout=60)
    return MetricsPipeline(tmp_path / "m.sqlite3", influx, StoreSettings(), CollectorRegistry())


def _points(count: int) -> list[Point]:
    return [
        Point("m", {"n": str(i)}, {"v": i}, 1_700_000_000_000_000_000 + i) for i in range(count)
    ]


async def test_stopping_during_a_write_waits_for_the_answer_and_sends_nothing_twice(tmp_path):
    server = SlowInflux(delay=2.0)
    runner, url = await _serve(server)
    try:
        pipeline = _pipeline(tmp_path, url)
        await pipeline.start()
        await pipeline.commit(_points(200))
        await asyncio.wait_for(server.writing.wait(), 10)
        started = time.monotonic()
        await pipeline.stop()  # SIGTERM while the write is in flight
        assert time.monotonic() - started < DRAIN_SECONDS + 1
        assert pipeline.store.pending_points == 0
        restarted = _pipeline(tmp_path, url)
        await restarted.start()
        await asyncio.sleep(1.0)
        await restarted.stop()
        assert len(server.received) == 200 == len(set(server.received))
    finally:
        await runner.cleanup()


async def test_a_server_that_never_answers_bounds_the_stop_and_gets_the_same_bytes_again(
    tmp_path,
):
    server = SlowInflux(delay=30.0)
    runner, url = await _serve(server)
    try:
        pipeline = _pipeline(tmp_path, url)
        await pipeline.start()
        await pipeline.commit(_points(50))
        await asyncio.wait_for(server.writing.wait(), 10)
        started = time.monotonic()
        await pipeline.stop()
        assert time.monotonic() - started < DRAIN_SECONDS + 2  # bounded, not the server's 30 s
        assert pipeline.store.pending_points == 50  # kept for the next start
        first = list(server.received)
        server.delay, server.received = 0.0, []
        restarted = _pipeline(tmp_path, url)
        await restarted.start()
        deadline = time.monotonic() + 10
        while restarted.store.pending_points and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await restarted.stop()
        assert server.received == first  # the same lines, timestamps included
    finally:
        await runner.cleanup()


async def test_victoriametrics_keeps_one_copy_of_a_resent_batch_with_dedup(tmp_path):
    now = time.time_ns() // 1_000_000 * 1_000_000  # VictoriaMetrics keeps milliseconds
    lines = "\n".join(f"resend,n={i} v={i}i {now + i * 1_000_000}" for i in range(20))
    counts = {}
    for name, extra in (("plain", ()), ("dedup", ("-dedup.minScrapeInterval=1ms",))):
        process, url = start_victoria(tmp_path / name, *extra)
        try:
            for _ in range(2):  # the batch and its re-send after a restart
                httpx.post(f"{url}/write", content=lines.encode()).raise_for_status()
            httpx.get(f"{url}/internal/force_flush").raise_for_status()
            deadline = time.monotonic() + 30
            while True:
                exported = httpx.post(f"{url}/api/v1/export", data={"match[]": "resend_v"})
                rows = [json.loads(line) for line in exported.text.splitlines() if line]
                if len(rows) == 20 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            counts[name] = sum(len(r["values"]) for r in rows)
        finally:
            process.kill()
            process.wait()
    assert counts == {"plain": 40, "dedup": 20}
