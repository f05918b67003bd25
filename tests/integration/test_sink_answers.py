"""What the forwarder does with each answer of a real InfluxDB 1.x: only points the server refuses
for good are dropped (and counted one by one); everything else waits in the spool until the
server takes it — a database that does not exist yet, wrong or missing credentials, a request
too large for the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from genosd.metrics.forwarder import Forwarder, ForwarderMetrics
from genosd.metrics.influx import make_sink
from genosd.metrics.model import Point
from genosd.metrics.store import MetricsStore
from genosd.settings_sections import InfluxSettings
from tests.servers import InfluxV1, free_tcp_port

ADMIN = ("admin", "admin-password")


def _points(count: int, start: int = 0, field: str = "v") -> list[Point]:
    return [
        Point("m", {"device": "sw1", "n": str(i)}, {field: i}, 1_700_000_000_000_000_000 + i)
        for i in range(start, start + count)
    ]


@asynccontextmanager
async def _forwarding(
    tmp_path: Path, settings: InfluxSettings, batch_size: int = 50
) -> AsyncIterator[tuple[MetricsStore, Forwarder, CollectorRegistry, list[tuple]]]:
    store = MetricsStore(
        tmp_path / "m.sqlite3", max_bytes=1 << 24, retention_hours=1, forwarding=True
    )
    await store.open()
    sink = make_sink(settings)
    assert sink is not None
    registry = CollectorRegistry()
    forwarder = Forwarder(
        store,
        sink,
        batch_size=batch_size,
        flush_interval=0.1,
        retry_max_delay=0.3,
        metrics=ForwarderMetrics(registry),
    )
    changes: list[tuple] = []
    forwarder.listeners.append(lambda *state: changes.append(state))
    task = asyncio.create_task(forwarder.run())
    try:
        yield store, forwarder, registry, changes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sink.close()
        await store.close()


async def _until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def _count(server: InfluxV1, auth: tuple[str, str] | None = None) -> int:
    rows = server.query('SELECT count("v") FROM "m"', auth=auth)
    return int(rows[0][1]) if rows else 0


async def test_a_database_created_later_gets_every_point(tmp_path: Path):
    server = InfluxV1(tmp_path / "influx", free_tcp_port())
    server.directory.mkdir()
    server.start()
    try:
        settings = InfluxSettings(url=server.url, api="v1", database="late")
        async with _forwarding(tmp_path, settings) as (store, forwarder, registry, changes):
            await store.append(_points(300))
            await _until(lambda: forwarder.reason == "database_missing")
            assert not forwarder.healthy and "database not found" in (forwarder.last_error or "")
            assert changes[0][:2] == (False, "database_missing")
            await asyncio.sleep(1.0)  # several refused retries: nothing may be dropped
            assert store.pending_points == 300
            server.create_db("late")
            forwarder.notify()
            await _until(lambda: store.pending_points == 0)
            assert forwarder.healthy and changes[-1][0] is True
        assert server.query('SELECT count("v") FROM "m"', db="late")[0][1] == 300
        assert registry.get_sample_value("genosd_sink_points_rejected_total") == 0
    finally:
        server.stop()


async def test_wrong_credentials_keep_the_points_until_they_are_fixed(tmp_path: Path):
    server = InfluxV1(tmp_path / "influx", free_tcp_port(), http_extra="  auth-enabled = true")
    server.directory.mkdir()
    server.start()
    try:
        server.admin(f"CREATE USER {ADMIN[0]} WITH PASSWORD '{ADMIN[1]}' WITH ALL PRIVILEGES")
        server.create_db(auth=ADMIN)
        server.admin("CREATE USER reader WITH PASSWORD 'reader-password'", ADMIN)
        wrong = InfluxSettings(
            url=server.url, api="v1", username="admin", password=SecretStr("not-it")
        )
        async with _forwarding(tmp_path / "a", wrong) as (store, forwarder, _, _):
            await store.append(_points(100))
            await _until(lambda: forwarder.reason == "unauthorized")
            assert "authorization failed" in (forwarder.last_error or "")
            assert store.pending_points == 100
        # a user without write permission: 403, the points still wait
        reader = wrong.model_copy(
            update={"username": "reader", "password": SecretStr("reader-password")}
        )
        async with _forwarding(tmp_path / "a", reader) as (store, forwarder, _, _):
            await _until(lambda: forwarder.reason == "forbidden")
            assert store.pending_points == 100
        # the operator fixes the settings (what a reload does): everything arrives
        right = wrong.model_copy(update={"password": SecretStr(ADMIN[1])})
        async with _forwarding(tmp_path / "a", right) as (store, forwarder, registry, _):
            await _until(lambda: store.pending_points == 0)
        assert _count(server, ADMIN) == 100
        assert registry.get_sample_value("genosd_sink_points_rejected_total") == 0
    finally:
        server.stop()


async def test_only_the_points_the_server_refuses_are_dropped_and_counted(
    tmp_path: Path, influxdb: InfluxV1
):
    # `v` is an integer field in InfluxDB; 7 of the next points carry it as a string
    settings = InfluxSettings(url=influxdb.url, api="v1")
    async with _forwarding(tmp_path, settings, batch_size=40) as (store, _, registry, _):
        await store.append(_points(20))
        await _until(lambda: store.pending_points == 0)
        refused = [
            Point("m", {"n": f"s{i}"}, {"v": "text"}, 1_700_000_000_000_001_000 + i)
            for i in range(7)
        ]
        await store.append([*_points(10, 100), *refused, *_points(10, 200)])
        await _until(lambda: store.pending_points == 0)
        assert registry.get_sample_value("genosd_sink_points_rejected_total") == 7
    assert _count(influxdb) == 40


async def test_a_batch_too_large_for_the_server_is_split(tmp_path: Path):
    server = InfluxV1(tmp_path / "influx", free_tcp_port(), http_extra="  max-body-size = 4000")
    server.directory.mkdir()
    server.start()
    try:
        server.create_db()
        settings = InfluxSettings(url=server.url, api="v1")
        async with _forwarding(tmp_path, settings, batch_size=500) as (store, fwd, registry, _):
            await store.append(_points(500))
            await _until(lambda: store.pending_points == 0)
            assert fwd.batch_size < 500  # later batches start smaller
            assert registry.get_sample_value("genosd_sink_points_rejected_total") == 0
        assert _count(server) == 500
    finally:
        server.stop()


class RefusingServer:
    """A /write that refuses (400, nothing stored) any batch holding a line with `poison`:
    how servers without partial writes answer bad data."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.requests = 0

    async def write(self, request: web.Request) -> web.Response:
        self.requests += 1
        lines = (await request.text()).splitlines()
        if any("poison" in line for line in lines):
            return web.json_response({"error": "unable to parse: bad line"}, status=400)
        self.stored.extend(lines)
        return web.Response(status=204)


async def test_a_refused_batch_is_halved_until_the_bad_lines_are_found(tmp_path: Path):
    server = RefusingServer()
    app = web.Application()
    app.router.add_post("/write", server.write)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        settings = InfluxSettings(url=f"http://127.0.0.1:{port}", api="v1")
        async with _forwarding(tmp_path, settings, batch_size=64) as (store, _, registry, _):
            points = _points(64)
            points[10] = Point("poison", {}, {"v": 1}, 1)
            points[50] = Point("poison", {}, {"v": 2}, 2)
            await store.append(points)
            await _until(lambda: store.pending_points == 0)
            assert registry.get_sample_value("genosd_sink_points_rejected_total") == 2
        assert len(server.stored) == 62 and not any("poison" in line for line in server.stored)
        assert server.requests <= 2 * 2 * 7 + 1  # two searches of depth log2(64)
    finally:
        await runner.cleanup()
