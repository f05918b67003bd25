"""The /api/v1/events WebSocket over a real socket: auth, roles per message, Origin, slow clients."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from genosd.api.context import RUNTIME
from genosd.auth.keys import Role


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _next(ws, kind: str, timeout: float = 10.0) -> dict:
    """The next message of `kind`, skipping heartbeats and other events."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
            data = msg.json()
            if data["type"] == kind:
                return data


async def _closed(ws, timeout: float = 10.0) -> int:
    """The close code once the server has closed the stream."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code


async def test_header_key_subscribe_and_device_events(api):
    client, keys = await api()
    viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
    async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
        welcome = await _next(ws, "welcome")
        assert welcome["role"] == "viewer"
        allowed = {t["name"]: t["allowed"] for t in welcome["topics"]}
        assert allowed["poll.result"] and allowed["device.status"] and not allowed["audit"]
        await ws.send_json(
            {"type": "subscribe", "topics": ["poll.result", "device.status"], "devices": ["sw*"]}
        )
        subscribed = await _next(ws, "subscribed")
        assert subscribed["topics"] == ["device.status", "poll.result"]
        for name in ("r1", "sw1"):  # r1 is unreachable and filtered out by the device glob
            response = await client.post(f"/api/v1/devices/{name}/poll", headers=_bearer(operator))
            assert response.status == 200
        # every poll publishes poll.result; device.status only on a change, and the daemon's
        # own first poll at start may have made that change before the subscription
        events = [await _next(ws, "event")]
        with contextlib.suppress(TimeoutError):  # no change of status to tell
            events.append(await _next(ws, "event", timeout=3.0))
        by_topic = {e["topic"]: e["data"] for e in events}
        assert by_topic["poll.result"]["device"] == "sw1" and by_topic["poll.result"]["ok"]
        assert by_topic["poll.result"]["varbinds"] > 0
        if "device.status" in by_topic:
            assert by_topic["device.status"] == {
                "device": "sw1",
                "status": "up",
                "previous": "unknown",
                "error": None,
            }
            assert events[0]["seq"] < events[1]["seq"]
        else:
            found = await client.get("/api/v1/devices/sw1", headers=_bearer(viewer))
            assert (await found.json())["status"] == "up"
        await ws.send_json({"type": "ping"})
        assert (await _next(ws, "pong"))["type"] == "pong"


async def test_roles_are_checked_per_message_and_audit_feed_needs_admin(api):
    client, keys = await api()
    viewer, admin = keys.make(Role.viewer), keys.make(Role.admin)
    async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
        await _next(ws, "welcome")
        await ws.send_json({"type": "subscribe", "topics": ["alert", "audit"]})
        error = await _next(ws, "error")
        assert error["code"] == "forbidden" and "audit" in error["message"]
        await ws.send_json({"type": "subscribe", "topics": ["no.such.topic"]})
        assert (await _next(ws, "error"))["code"] == "unknown_topic"
        await ws.send_json({"type": "subscribe", "topics": "alert", "extra": 1})
        invalid = await _next(ws, "error")
        assert invalid["code"] == "invalid_request" and invalid["details"]
        await ws.send_json({"type": "subscribe", "topics": ["alert"]})
        assert (await _next(ws, "subscribed"))["topics"] == ["alert"]
    async with client.ws_connect("/api/v1/events", headers=_bearer(admin)) as ws:
        await _next(ws, "welcome")
        await ws.send_json({"type": "subscribe", "topics": ["audit"]})
        await _next(ws, "subscribed")
        await asyncio.sleep(1.2)  # let the feed move its cursor past older entries
        created = keys.make(Role.viewer)  # written straight to the database, as the CLI does
        event = await _next(ws, "event")
        assert event["topic"] == "audit"
        assert event["data"]["action"] == "create_api_key"
        assert event["data"]["target"] == f"key:{created.split('_')[1]}"


async def test_browser_style_auth_message_and_bad_keys(api):
    client, keys = await api()
    viewer = keys.make(Role.viewer)
    async with client.ws_connect("/api/v1/events") as ws:
        await ws.send_json({"type": "auth", "key": viewer})
        assert (await _next(ws, "welcome"))["role"] == "viewer"
    async with client.ws_connect("/api/v1/events") as ws:
        await ws.send_json({"type": "auth", "key": keys.make(Role.admin, revoked=True)})
        assert await _closed(ws) == 4401
    async with client.ws_connect("/api/v1/events") as ws:
        await ws.send_json({"type": "subscribe", "topics": ["alert"]})
        assert await _closed(ws) == 4401
    for secret in ("nonsense", keys.expired(Role.admin)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/events", headers=_bearer(secret))
        assert refused.value.status == 401


async def test_revoked_key_loses_the_stream_on_next_message_or_heartbeat(api):
    client, keys = await api("api:\n  ws_heartbeat: 1\n")
    first, second, admin = keys.make(Role.viewer), keys.make(Role.viewer), keys.make(Role.admin)
    async with (
        client.ws_connect("/api/v1/events", headers=_bearer(first)) as ws1,
        client.ws_connect("/api/v1/events", headers=_bearer(second)) as ws2,
    ):
        await _next(ws1, "welcome")
        await _next(ws2, "welcome")
        assert (await _next(ws1, "heartbeat", timeout=5))["type"] == "heartbeat"
        # revoked through the API: refused at the very next message
        revoked = await client.delete(f"/api/v1/keys/{first.split('_')[1]}", headers=_bearer(admin))
        assert revoked.status == 200
        await ws1.send_json({"type": "ping"})
        assert await _closed(ws1) == 4401
        # revoked by another process (the CLI): gone within the key cache's TTL plus a heartbeat
        keys.db.execute(
            "UPDATE api_keys SET revoked_at = 1 WHERE prefix = ?", (second.split("_")[1],)
        )
        keys.db.commit()
        assert await _closed(ws2, timeout=6) == 4401


async def test_origin_allow_list(api):
    client, keys = await api("api:\n  allowed_origins: ['https://console.example.net']\n")
    viewer = keys.make(Role.viewer)
    # the request's own Host is never trusted (a DNS-rebinding page controls it)
    rebinding = f"http://{client.host}:{client.port}"
    for origin in ("https://evil.example", rebinding):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/events", headers={**_bearer(viewer), "Origin": origin})
        assert refused.value.status == 403
    configured = "http://127.0.0.1:8470"  # api.host and api.port as configured
    for origin in ("https://console.example.net", configured, "http://localhost:8470"):
        async with client.ws_connect(
            "/api/v1/events", headers={**_bearer(viewer), "Origin": origin}
        ) as ws:
            assert (await _next(ws, "welcome"))["role"] == "viewer"


async def test_a_slow_consumer_is_dropped_and_others_keep_receiving(api):
    client, keys = await api("api:\n  ws_queue_size: 10\n")
    viewer = keys.make(Role.viewer)
    bus = client.server.app[RUNTIME].events
    async with (
        client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as slow,
        client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as healthy,
    ):
        for ws, topics in ((slow, ["alert"]), (healthy, ["device.status"])):
            await _next(ws, "welcome")
            await ws.send_json({"type": "subscribe", "topics": topics})
            await _next(ws, "subscribed")
        # a burst published without yielding: more than the slow client's queue can hold
        for n in range(50):
            bus.publish("alert", {"n": n, "message": "x" * 100})
        bus.publish("device.status", {"device": "sw1", "status": "down"})
        assert await _closed(slow) == 4409
        assert (await _next(healthy, "event"))["data"]["status"] == "down"
        assert bus.dropped_subscribers == 1
        metrics = await (await client.get("/metrics")).text()
        assert "genosd_event_subscribers_dropped_total 1.0" in metrics
