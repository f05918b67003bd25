"""Syslog forwarded to log stores as stored (masked, attributed): a syslog server over TCP
(octet counting) and UDP, parsed back as RFC 5424, and a Loki push endpoint; a destination that
is down gets the messages when it comes back."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.syslog.framing import Deframer
from genosd.syslog.message import Message, parse
from tests.api.conftest import write_setup
from tests.servers import free_tcp_port

MESSAGES = [
    b"<187>58: *Dec  7 11:00:00.001: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
    b"<189>59: SW1: *Dec  7 11:00:01.001: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged "
    b"command:snmp-server community Sup3rS3cretComm RO",
]


class TcpSyslog:
    """A syslog server on TCP: what it received, parsed."""

    def __init__(self) -> None:
        self.got: list[Message] = []
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            deframer = Deframer(65536)
            while data := await reader.read(65536):
                self.got += [parse(frame) for frame in deframer.feed(data)]
            writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", port)


class UdpSyslog(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[Message] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append(parse(data))


async def _until(what: str, check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_forwarded_to_syslog_servers_and_loki(tmp_path: Path, snmpd) -> None:
    loop = asyncio.get_running_loop()
    udp = UdpSyslog()
    transport, _ = await loop.create_datagram_endpoint(lambda: udp, local_addr=("127.0.0.1", 0))
    udp_port = transport.get_extra_info("sockname")[1]
    tcp, tcp_port = TcpSyslog(), free_tcp_port()  # not listening yet: down at first
    pushed: list[dict[str, Any]] = []

    async def push(request: web.Request) -> web.Response:
        pushed.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/loki/api/v1/push", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    loki = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = write_setup(
        tmp_path,
        snmpd,
        f"syslog: {{forward: ['udp://127.0.0.1:{udp_port}', 'tcp://127.0.0.1:{tcp_port}', "
        f"'http://127.0.0.1:{loki}/loki/api/v1/push']}}\n",
    )
    runtime = build_runtime(Sources(config))
    await runtime.start()
    try:
        receiver = runtime.syslog.listening["udp"][1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for message in MESSAGES:
                sock.sendto(message, ("127.0.0.1", receiver))
        await _until("UDP", lambda: len(udp.got) >= 2)
        await _until(
            "Loki", lambda: sum(len(s["values"]) for p in pushed for s in p["streams"]) >= 2
        )
        # the TCP destination is down: named in the health, messages kept
        await _until("the TCP error", lambda: runtime.syslog.error)
        assert f"tcp://127.0.0.1:{tcp_port}" in (runtime.syslog.error or "")
        await tcp.start(tcp_port)
        await _until("TCP after it came back", lambda: len(tcp.got) >= 2, timeout=30)
        for got in (udp.got, tcp.got):
            link, logged = got[0], got[1]
            assert link.format == "rfc5424" and (link.facility, link.severity) == (23, 3)
            # from an address two devices share, naming no host: the source address stands in
            assert link.msgid == "LINK-3-UPDOWN" and link.hostname == "127.0.0.1"
            assert link.structured["genosd@32473"] == {"source": "127.0.0.1", "event": "link_down"}
            assert logged.hostname == "sw1" and logged.structured["genosd@32473"]["device"] == "sw1"
            assert link.text.startswith("%LINK-3-UPDOWN: Interface Gi0/1")
            assert "Sup3rS3cretComm" not in logged.text and "snmp-server community" in logged.text
        streams = [s for p in pushed for s in p["streams"]]
        assert {s["stream"]["host"] for s in streams} == {"127.0.0.1", "sw1"}
        assert any(s["stream"].get("event") == "link_down" for s in streams)
        assert not any("Sup3rS3cretComm" in v[1] for s in streams for v in s["values"])
        await _until("a healthy receiver", lambda: runtime.syslog.error is None)
    finally:
        await runtime.stop()
        transport.close()
        if tcp.server is not None:
            tcp.server.close()
        await runner.cleanup()
