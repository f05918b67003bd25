"""The API edge under abuse, against the running app on a real socket: floods without a key are
refused cheaply and leave one audit row per client and minute, trusted proxies decide the client
address, and event streams that never authenticate cannot take the slots of clients that do."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from genosd.api.context import RUNTIME
from genosd.api.edge import EDGE
from genosd.auth.keys import Role
from tests.api.test_events_ws import _bearer, _next

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


async def _audit_rows(client, admin: str) -> list[dict]:
    page = await client.get("/api/v1/audit", params={"limit": "500"}, headers=_bearer(admin))
    return (await page.json())["items"]


async def test_a_flood_without_keys_is_refused_early_and_audited_once(api):
    # a refill of one request an hour: a slow machine cannot earn an extra 401 mid-test
    client, keys = await api(
        "api: {unauthenticated_per_minute: 0.017, unauthenticated_burst: 20}\n"
    )
    admin, viewer = keys.make(Role.admin), keys.make(Role.viewer)
    long_path = "/api/v1/devices/" + "x" * 8000 + "/poll"
    statuses = []
    for _ in range(200):
        statuses.append((await client.post(long_path)).status)
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    # a client with a valid key from the same address still gets in (its key is known)
    assert (await client.get("/api/v1/devices", headers=_bearer(viewer))).status == 200
    app = client.server.app
    await app[EDGE].refusals.flush(app[RUNTIME].core.db)
    rows = [r for r in await _audit_rows(client, admin) if r["result"] == "denied"]
    assert len(rows) == 1  # one row for 200 refused requests, not 200 rows
    [row] = rows
    assert row["details"]["count"] == 200 and row["target"] == "requests:200"
    assert row["details"]["reasons"] == {"unauthorized": 20, "unauthenticated_rate_limited": 180}
    assert all(len(path) <= 200 for path in row["details"]["sample_paths"])
    metrics = await (await client.get("/metrics")).text()
    assert 'genosd_api_refused_total{reason="unauthenticated_rate_limited"} 180.0' in metrics


async def test_every_address_has_its_own_budget_behind_a_trusted_proxy(api):
    client, _ = await api(
        "api: {unauthenticated_per_minute: 0.017, unauthenticated_burst: 3, trusted_proxies: ['127.0.0.0/8']}\n"
    )

    async def status(forwarded: str) -> int:
        headers = {"X-Forwarded-For": forwarded}
        return (await client.get("/api/v1/devices", headers=headers)).status

    assert [await status("198.51.100.7") for _ in range(5)] == [401, 401, 401, 429, 429]
    # another client behind the same proxy is not punished for the first one
    assert await status("203.0.113.9") == 401
    # a client cannot pick its address: the proxy appends the real one last
    assert await status("203.0.113.9, 198.51.100.7") == 429


async def test_a_proxy_that_is_not_trusted_cannot_choose_the_address(api):
    client, _ = await api("api: {unauthenticated_per_minute: 0.017, unauthenticated_burst: 2}\n")
    for forwarded in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        response = await client.get("/api/v1/devices", headers={"X-Forwarded-For": forwarded})
        last = response.status
    assert last == 429  # all three counted against the real peer, 127.0.0.1


async def test_the_per_address_limit_applies_before_anything_else(api):
    client, keys = await api(
        "api: {client_rate_limit_per_minute: 60, client_rate_limit_burst: 5}\n"
    )
    viewer = keys.make(Role.viewer)
    statuses = [
        (await client.get("/api/v1/devices", headers=_bearer(viewer))).status for _ in range(8)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3


async def test_streams_that_never_authenticate_leave_the_slots_to_those_that_do(api):
    client, keys = await api(
        "api: {ws_max_clients: 3, ws_unauthenticated: 4, ws_unauthenticated_per_address: 4, "
        "ws_auth_timeout: 1.0}\n"
    )
    viewer = keys.make(Role.viewer)
    idle = [await client.ws_connect("/api/v1/events") for _ in range(4)]  # never send auth
    with pytest.raises(aiohttp.WSServerHandshakeError) as full:
        await client.ws_connect("/api/v1/events")
    assert full.value.status == 503
    # the slots for authenticated clients are all free
    streams = [await client.ws_connect("/api/v1/events", headers=_bearer(viewer)) for _ in range(3)]
    for ws in streams:
        assert (await _next(ws, "welcome"))["role"] == "viewer"
    # the idle ones are closed at the auth deadline
    started = time.monotonic()
    for ws in idle:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4408
    assert time.monotonic() - started < 3
    for ws in [*idle, *streams]:
        await ws.close()
    await asyncio.sleep(0.1)
    app = client.server.app
    assert app[EDGE].ws_pending == {}


async def test_2000_requests_and_2000_sockets_without_keys_leave_a_keyed_client_working(api):
    client, keys = await api()  # the default edge settings
    admin, viewer = keys.make(Role.admin), keys.make(Role.viewer)
    app = client.server.app
    db = app[RUNTIME].core.db
    await app[EDGE].refusals.flush(db)
    rows_before = len(await _audit_rows(client, admin))
    base = str(client.make_url("/"))
    long_url = base + "api/v1/devices/" + "x" * 8000 + "/poll"
    statuses: dict[int, int] = {}
    sockets: dict[str, int] = {}
    keyed: list[int] = []
    gate = asyncio.Semaphore(100)
    # the flood comes from another loopback address than the keyed client (127.0.0.1)
    flood = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)))

    async def request() -> None:
        async with gate, flood.post(long_url) as response:
            statuses[response.status] = statuses.get(response.status, 0) + 1

    async def socket() -> None:
        async with gate:
            try:
                ws = await flood.ws_connect(base + "api/v1/events")
            except aiohttp.WSServerHandshakeError as exc:
                outcome = f"refused {exc.status}"
            else:
                outcome = "waiting"
                await ws.close()
            sockets[outcome] = sockets.get(outcome, 0) + 1

    async def keyed_client(stop: asyncio.Event) -> None:
        while not stop.is_set():
            keyed.append((await client.get("/api/v1/devices", headers=_bearer(viewer))).status)
            await asyncio.sleep(0.01)

    stop = asyncio.Event()
    watcher = asyncio.create_task(keyed_client(stop))
    started = time.monotonic()
    try:
        await asyncio.gather(*(request() for _ in range(2000)), *(socket() for _ in range(2000)))
        # an authenticated stream gets in while the flood is still fresh
        async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
            assert (await _next(ws, "welcome"))["role"] == "viewer"
    finally:
        stop.set()
        await watcher
        await flood.close()
    assert time.monotonic() - started < 120
    assert sum(statuses.values()) == 2000 and statuses.get(429, 0) >= 2000 - 60, statuses
    assert sum(sockets.values()) == 2000 and sockets.get("refused 429", 0) > 0, sockets
    assert keyed and set(keyed) == {200}, keyed  # every keyed request answered, none refused
    await app[EDGE].refusals.flush(db)
    added = len(await _audit_rows(client, admin)) - rows_before
    assert 1 <= added <= 2  # refusals aggregated: a row per client, action and window
    metrics = await (await client.get("/metrics")).text()
    assert 'genosd_api_refused_total{reason="unauthenticated_rate_limited"}' in metrics
