"""Traps in the daemon: attributed to inventory devices, stored, listed, published, counted."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup
from tests.servers import need

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
ALIAS = "uplink\tto core\nrack 4 \u2013 Zürich"  # tab, newline, Unicode: kept as text


def _snmptrap(port: int, source: str, community: str = "public") -> None:
    subprocess.run(
        [
            need("snmptrap"), "-v2c", "-c", community, f"--clientaddr={source}",
            f"127.0.0.1:{port}", "", LINK_DOWN, "1.3.6.1.2.1.2.2.1.1.7", "i", "7",
            "1.3.6.1.2.1.2.2.1.8.7", "i", "2", "1.3.6.1.2.1.31.1.1.1.18.7", "s", ALIAS,
        ],
        check=True,
        env={**os.environ, "MIBS": ""},
        capture_output=True,
    )  # fmt: skip


async def test_a_trap_is_attributed_stored_listed_published_and_counted(tmp_path: Path, snmpd):
    config = write_setup(tmp_path, snmpd, "traps: {host: 127.0.0.1, port: 0}\n")
    hosts = tmp_path / "inventory" / "hosts.yaml"
    # r1 gets an address of its own, so a trap from it names it (sw1 keeps 127.0.0.1)
    text = hosts.read_text()
    at = text.index("r1:")
    hosts.write_text(text[:at] + text[at:].replace("127.0.0.1", "127.0.0.2", 1))
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        traps = runtime.traps
        assert traps.listening is not None and traps.error is None
        port = traps.listening[1]
        viewer = Keys(runtime.core.settings.state_dir).make(Role.viewer)
        headers = {"Authorization": f"Bearer {viewer}"}
        async with client.ws_connect("/api/v1/events", headers=headers) as ws:
            await ws.send_json({"type": "subscribe", "topics": ["traps"]})
            await asyncio.to_thread(_snmptrap, port, "127.0.0.2")
            await asyncio.to_thread(_snmptrap, port, "127.0.0.2", "wrong")  # refused, counted
            async with asyncio.timeout(10):
                while True:
                    msg = await ws.receive()
                    assert msg.type == aiohttp.WSMsgType.TEXT
                    if msg.json()["type"] == "event":
                        event = msg.json()["data"]
                        break
        assert (event["device"], event["name"], event["mib"]) == ("r1", "linkDown", "IF-MIB")
        named = {v["name"]: v["value"] for v in event["varbinds"]}
        assert named == {"ifIndex.7": 7, "ifOperStatus.7": 2, "ifAlias.7": ALIAS}
        response = await client.get("/api/v1/traps?device=r1", headers=headers)
        assert response.status == 200
        (item,) = (await response.json())["items"]
        assert item["id"] == event["id"] and item["source"] == "127.0.0.2"
        assert item["version"] == "2c" and item["kind"] == "trap"
        assert (await (await client.get("/api/v1/traps?device=sw1", headers=headers)).json()) == {
            "items": []
        }
        metrics = await (await client.get("/metrics")).text()
        assert 'genosd_traps_received_total{kind="trap",version="2c"} 1.0' in metrics
        assert 'genosd_traps_rejected_total{reason="unknown community"} 1.0' in metrics
        system = await (await client.get("/api/v1/system", headers=headers)).json()
        receiver = next(b for b in system["backends"] if b["name"] == "trap-receiver")
        assert receiver["healthy"] and receiver["detail"] == f"udp 127.0.0.1:{port}"
    finally:
        await client.close()


FLOOD_SENDER = """
import socket, sys
port, sources, count, packet, junk = (
    int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4]), b"\\x30\\x84junk"
)
socks = []
for n in range(sources):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.0.1.{n + 1}", 0))
    socks.append(s)
for i in range(count):
    for s in socks:
        s.sendto(junk if i % 10 == 9 else packet, ("127.0.0.1", port))
"""


async def test_a_trap_flood_does_not_delay_polling(tmp_path: Path, snmpd):
    from genosd.snmp import ber
    from genosd.snmp.client import Credentials, SnmpClient

    config = write_setup(tmp_path, snmpd, "traps: {host: 127.0.0.1, port: 0}\n")
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    snmp = SnmpClient("127.0.0.1", snmpd, Credentials("2c", community=b"public"), 1.0, 0)
    trap = ber.encode_community_message(
        1,
        b"public",
        ber.encode_pdu(
            ber.TRAP_V2,
            1,
            0,
            0,
            ber.encode_varbinds(
                [
                    ("1.3.6.1.2.1.1.3.0", ber.TimeTicks(5)),
                    ("1.3.6.1.6.3.1.1.4.1.0", ber.ObjectId(LINK_DOWN)),
                    ("1.3.6.1.2.1.2.2.1.1.7", 7),
                ]
            ),
        ),
    )

    async def poll_times(stop: asyncio.Event | None, rounds: int = 0) -> list[float]:
        took: list[float] = []
        while (stop is None and len(took) < rounds) or (stop is not None and not stop.is_set()):
            started = asyncio.get_running_loop().time()
            await snmp.get_bulk(["1.3.6.1.2.1.2.2.1"], 25)  # a whole ifTable walk step
            took.append(asyncio.get_running_loop().time() - started)
            await asyncio.sleep(0.005)
        return took

    try:
        port = runtime.traps.listening[1] if runtime.traps.listening else 0
        quiet = await poll_times(None, 50)
        done = asyncio.Event()
        polling = asyncio.create_task(poll_times(done))
        sources, count = 4, 4000
        flood_started = asyncio.get_running_loop().time()
        flood = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FLOOD_SENDER, str(port), str(sources), str(count), trap.hex()
        )
        await flood.wait()
        for _ in range(300):  # until the receiver has handled what it took in
            if not runtime.traps._queue:
                break
            await asyncio.sleep(0.05)
        done.set()
        busy = await polling
        elapsed = asyncio.get_running_loop().time() - flood_started
        sent = sources * count
        received = runtime.traps.received.labels("2c", "trap")._value.get()
        malformed = runtime.traps.rejected.labels("malformed")._value.get()
        limited = runtime.traps.dropped.labels("rate_limited")._value.get()
        full = runtime.traps.dropped.labels("queue_full")._value.get()
        # what the kernel dropped before the socket was read is not seen; the rest is accounted
        assert received + malformed + limited + full <= sent
        # each source gets its burst (5 s worth) and then its rate; the rest is shed and counted
        assert sources * 900 <= received + malformed <= sources * (1000 + 200 * elapsed)
        assert limited > 0
        stored = await runtime.core.db.run(
            lambda db: db.execute("SELECT COUNT(*) FROM traps").fetchone()[0]
        )
        assert stored == received
        quiet_median = statistics.median(quiet)
        assert len(busy) >= 10
        assert max(busy) < 0.5, (max(busy), quiet_median)  # no poll came near its 1 s timeout
        assert statistics.median(busy) < quiet_median * 5 + 0.02, (busy, quiet_median)
    finally:
        snmp.close()
        await client.close()
