"""Syslog in the daemon: from util-linux `logger` and raw device messages over UDP, TCP and TLS
to stored, attributed, classified, masked, listed, published, counted and written as points."""

from __future__ import annotations

import asyncio
import socket
import ssl
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import Runtime, build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup
from tests.servers import need

LINK_DOWN = b"<187>58: *Dec  7 11:00:00.001: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
LOGGED_SECRET = (
    b"<189>59: SW1: *Dec  7 11:00:01.001: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged "
    b"command:snmp-server community Sup3rS3cretComm RO"
)


def _own_address(config: Path, device: str, address: str) -> None:
    """Give `device` an address of its own, so a message from it names it."""
    hosts = config.parent / "inventory" / "hosts.yaml"
    text = hosts.read_text()
    at = text.index(f"{device}:")
    hosts.write_text(text[:at] + text[at:].replace("127.0.0.1", address, 1))


def _send_udp(port: int, source: str, *messages: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for message in messages:
            sock.sendto(message, ("127.0.0.1", port))


def _logger(*args: str) -> None:
    subprocess.run([need("logger"), "-n", "127.0.0.1", *args], check=True, capture_output=True)


async def _stored(runtime: Runtime, count: int) -> list[dict[str, Any]]:
    from genosd.app.syslog_store import list_messages

    for _ in range(200):
        rows = await runtime.core.db.run(lambda db: list_messages(db, limit=1000))
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(rows)} messages stored, wanted {count}")


async def test_messages_from_logger_and_devices_are_kept_listed_published(tmp_path, snmpd):
    config = write_setup(tmp_path, snmpd, "syslog: {to_metrics: true}\n")
    _own_address(config, "r1", "127.0.0.2")
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        receiver = runtime.syslog
        assert set(receiver.listening) == {"udp", "tcp"} and receiver.error is None
        udp, tcp = receiver.listening["udp"][1], receiver.listening["tcp"][1]
        viewer = Keys(runtime.core.settings.state_dir).make(Role.viewer)
        headers = {"Authorization": f"Bearer {viewer}"}
        async with client.ws_connect("/api/v1/events", headers=headers) as ws:
            await ws.send_json({"type": "subscribe", "topics": ["syslog"]})
            async with asyncio.timeout(10):
                while (await ws.receive_json())["type"] != "subscribed":
                    pass
            # a Cisco-style message from r1's own address: attributed by source, classified
            await asyncio.to_thread(_send_udp, udp, "127.0.0.2", LINK_DOWN)
            async with asyncio.timeout(10):
                while (message := await ws.receive_json())["type"] != "event":
                    pass
        event = message["data"]
        assert event["device"] == "r1" and event["source"] == "127.0.0.2"
        assert event["event"] == {"kind": "link_down", "interface": "Gi0/1", "state": "down"}
        assert (event["facility"], event["severity"]) == ("local7", "err")
        # util-linux logger: RFC 3164 over UDP, RFC 5424 with structured data over TCP with
        # octet counting; the host name `sw1` names the device (the address is shared)
        await asyncio.to_thread(
            _logger, "-d", "-P", str(udp), "--rfc3164", "-t", "sw1tag", "-p", "local4.warning",
            "plain bsd message",
        )  # fmt: skip
        await asyncio.to_thread(
            _logger, "-T", "-P", str(tcp), "--octet-count", "--rfc5424", "--msgid", "ID7",
            "--sd-id", "origin@32473", "--sd-param", 'site="fra1"', "-t", "app", "-p",
            "daemon.info", "structured over tcp",
        )  # fmt: skip
        # a device that names itself in the header (from an address no device has), over a
        # plain TCP connection (LF framing)
        _, writer = await asyncio.open_connection("127.0.0.1", tcp, local_addr=("127.0.0.3", 0))
        writer.write(b"<189>Dec  7 11:00:02 SW1 Ebra: %SYS-5-CONFIG_I: Configured from "
                     b"console by ops on vty3 (10.9.9.9)\n" + LOGGED_SECRET + b"\n")  # fmt: skip
        await writer.drain()
        writer.close()
        rows = await _stored(runtime, 5)
        by_text = {row["message"]: row for row in rows}
        bsd = by_text["plain bsd message"]
        assert (bsd["format"], bsd["app"], bsd["facility"], bsd["severity"]) == (
            "rfc3164", "sw1tag", "local4", "warning",
        )  # fmt: skip
        assert bsd["hostname"] == socket.gethostname() and bsd["transport"] == "udp"
        tcp_row = by_text["structured over tcp"]
        assert (tcp_row["format"], tcp_row["msgid"], tcp_row["transport"]) == (
            "rfc5424", "ID7", "tcp",
        )  # fmt: skip
        assert tcp_row["structured"]["origin@32473"] == {"site": "fra1"}
        changed = next(r for r in rows if r["msgid"] == "SYS-5-CONFIG_I")
        assert changed["device"] == "sw1" and changed["hostname"] == "SW1"
        assert changed["event"]["kind"] == "config_changed" and changed["event"]["user"] == "ops"
        # a logged command with a secret in it is kept masked, everywhere
        logged = next(r for r in rows if "CFGLOG" in r["message"])
        assert "Sup3rS3cretComm" not in logged["message"]
        assert "snmp-server community" in logged["message"]

        # the API filters
        async def items(query: str) -> list[dict[str, Any]]:
            response = await client.get(f"/api/v1/syslog?{query}", headers=headers)
            assert response.status == 200, await response.text()
            return (await response.json())["items"]

        assert [r["message"] for r in await items("device=r1")] == [event["message"]]
        assert {r["msgid"] for r in await items("event=any")} == {"LINK-3-UPDOWN", "SYS-5-CONFIG_I"}
        assert [r["device"] for r in await items("event=config_changed")] == ["sw1"]
        assert {r["severity"] for r in await items("severity=warning")} == {"err", "warning"}
        assert [r["message"] for r in await items("q=STRUCTURED%20over")] == ["structured over tcp"]
        bad = await client.get("/api/v1/syslog?severity=loud", headers=headers)
        assert bad.status == 400 and "severity" in await bad.text()
        # points in Telegraf's syslog schema reached the metrics store
        store = runtime.pipeline.store
        (link,) = await store.points_since("r1", "syslog", 0)
        syslog_points = await store.points_since("sw1", "syslog", 0)
        assert len(syslog_points) == 4
        assert link.tags["event"] == "link_down" and link.tags["facility"] == "local7"
        assert link.fields["severity_code"] == 3 and link.fields["facility_code"] == 23
        assert link.tags["site"] == "ams1"  # the inventory's tags
        assert not any("Sup3rS3cretComm" in str(p.fields) for p in syslog_points)
        metrics = await (await client.get("/metrics")).text()
        assert 'genosd_syslog_received_total{transport="tcp"} 3.0' in metrics
        assert 'genosd_syslog_received_total{transport="udp"} 2.0' in metrics
        assert 'genosd_syslog_events_total{kind="link_down"} 1.0' in metrics
        system = await (await client.get("/api/v1/system", headers=headers)).json()
        health = next(b for b in system["backends"] if b["name"] == "syslog-receiver")
        assert health["healthy"] and f"tcp 127.0.0.1:{tcp}" in health["detail"]
    finally:
        await client.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "syslog.pem", directory / "syslog.key"
    subprocess.run(
        [
            need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_with_octet_counting_and_a_sender_that_is_not_syslog(tmp_path, snmpd):
    cert, key = _self_signed(tmp_path)
    config = write_setup(
        tmp_path,
        snmpd,
        f"syslog: {{host: 127.0.0.1, tcp_port: 0, tls_port: 0, "
        f"tls_cert: {cert}, tls_key: {key}}}\n",
    )
    runtime = build_runtime(Sources(config))
    await runtime.start()
    try:
        assert {"tcp", "tls"} <= set(runtime.syslog.listening)
        port = runtime.syslog.listening["tls"][1]
        context = ssl.create_default_context(cafile=str(cert))
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        frames = [b"<14>1 2026-12-07T11:00:00Z sw1 app - - - over tls %d" % n for n in range(3)]
        writer.write(b"".join(b"%d %s" % (len(f), f) for f in frames))
        await writer.drain()
        writer.close()
        rows = await _stored(runtime, 3)
        assert sorted(r["message"] for r in rows) == [f"over tls {n}" for n in range(3)]
        assert {r["transport"] for r in rows} == {"tls"}
        # a plain-text peer on the TLS port gets nowhere; garbage on TCP closes that connection
        _, plain = await asyncio.open_connection("127.0.0.1", port)
        plain.write(b"<14>not encrypted\n")
        await plain.drain()
        plain.close()
        reader, junk = await asyncio.open_connection(
            "127.0.0.1", runtime.syslog.listening["tcp"][1]
        )
        junk.write(b"99999999999999999 nonsense")
        await junk.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the receiver
        await asyncio.sleep(0.2)
        assert runtime.syslog.dropped.labels("framing")._value.get() == 1
        assert len(await _stored(runtime, 3)) == 3
    finally:
        await runtime.stop()


FLOOD = """
import socket, sys, time
port, sources, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks = []
for n in range(sources):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.0.1.{n + 1}", 0))
    socks.append(s)
line = b"<187>58: *Dec  7 11:00:00.001: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
for i in range(count):
    for s in socks:
        s.sendto(line, ("127.0.0.1", port))
    if i % 50 == 49:
        time.sleep(0.002)  # a flood, not a kernel-buffer overflow: the receiver is what is tested
"""


async def test_a_syslog_flood_is_bounded_and_does_not_delay_polling(tmp_path: Path, snmpd):
    from genosd.snmp.client import Credentials, SnmpClient

    config = write_setup(
        tmp_path,
        snmpd,
        "syslog: {host: 127.0.0.1, udp_port: 0, rate_per_source: 500}\n",
    )
    runtime = build_runtime(Sources(config))
    await runtime.start()
    snmp = SnmpClient("127.0.0.1", snmpd, Credentials("2c", community=b"public"), 1.0, 0)

    async def poll_times(stop: asyncio.Event | None, rounds: int = 0) -> list[float]:
        took: list[float] = []
        while (stop is None and len(took) < rounds) or (stop is not None and not stop.is_set()):
            started = asyncio.get_running_loop().time()
            await snmp.get_bulk(["1.3.6.1.2.1.2.2.1"], 25)
            took.append(asyncio.get_running_loop().time() - started)
            await asyncio.sleep(0.005)
        return took

    try:
        port = runtime.syslog.listening["udp"][1]
        quiet = await poll_times(None, 50)
        done = asyncio.Event()
        polling = asyncio.create_task(poll_times(done))
        sources, count = 4, 10_000
        started = asyncio.get_running_loop().time()
        flood = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FLOOD, str(port), str(sources), str(count)
        )
        await flood.wait()
        for _ in range(300):
            if not runtime.syslog._queue:
                break
            await asyncio.sleep(0.05)
        done.set()
        busy = await polling
        elapsed = asyncio.get_running_loop().time() - started
        received = runtime.syslog.received.labels("udp")._value.get()
        limited = runtime.syslog.dropped.labels("rate_limited")._value.get()
        # each source: its burst (5 s worth) and then its rate; the rest shed and counted (what
        # the kernel dropped before the socket was read, on a busy machine, is not seen)
        assert sources * 1000 <= received <= sources * (2500 + 500 * elapsed)
        assert limited > 0 and received + limited <= sources * count
        # the queue can be empty while its last batch is still being stored
        for _ in range(300):
            stored = await runtime.core.db.run(
                lambda db: db.execute("SELECT COUNT(*) FROM syslog").fetchone()[0]
            )
            if stored >= received:
                break
            await asyncio.sleep(0.05)
        assert stored == received
        quiet_median = statistics.median(quiet)
        assert len(busy) >= 10
        assert max(busy) < 0.5, (max(busy), quiet_median)
        assert statistics.median(busy) < quiet_median * 5 + 0.02, (busy, quiet_median)
    finally:
        snmp.close()
        await runtime.stop()


async def test_a_port_in_use_is_reported_not_fatal(tmp_path, snmpd, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("GENOSD_SYSLOG__TCP_PORT", str(port))  # the tests' default is 0
        config = write_setup(tmp_path, snmpd)
        runtime = build_runtime(Sources(config))
        await runtime.start()
        try:
            assert "udp" in runtime.syslog.listening
            assert runtime.syslog.error is not None and f"tcp 127.0.0.1:{port}" in (
                runtime.syslog.error
            )
        finally:
            await runtime.stop()


async def test_settings_errors(tmp_path, snmpd):
    from genosd.errors import ConfigError

    config = write_setup(tmp_path, snmpd, "syslog: {tls_port: 6514}\n")
    try:
        build_runtime(Sources(config))
    except ConfigError as exc:
        assert "tls_cert" in str(exc) + " ".join(exc.problems)
    else:
        raise AssertionError("a TLS port without a certificate was accepted")
    events = tmp_path / "events.yaml"
    events.write_text("- kind: Bad Kind\n  contains: x\n  pattern: x\n")
    config.write_text(
        config.read_text().replace("syslog: {tls_port: 6514}", f"syslog: {{events_file: {events}}}")
    )
    try:
        build_runtime(Sources(config))
    except ConfigError as exc:
        assert any(f"{events}:1" in p for p in exc.problems), exc.problems
    else:
        raise AssertionError("a bad event catalogue was accepted")
