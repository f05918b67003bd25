"""A light SNMPv2c agent for many simulated devices at once: scale tests and benchmarks only.

snmpsim replays real recordings but spends milliseconds per request, too much for 10,000 agents
on a small machine. This responder answers GET, GETNEXT and GETBULK for a fixed MIB shape — the
system group and ifTable/ifXTable of a few interfaces — on one UDP socket per address (127.x.y.z
addresses all reach loopback on Linux), with counters that grow with time at a rate of their own
per device. It counts the polls each address receives (a poll starts with a GET of sysUpTime), so
tests can check that a device was polled exactly once in a slot.

    python -m genosd.lab.responder --first 127.1.0.1 --count 10000 --port 1161
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import ipaddress
import json
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genosd.processes import raise_open_files_limit
from genosd.snmp import ber

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
MAX_MESSAGE = 65_000
_END_OF_VIEW = b"\x82\x00"
_IF = "1.3.6.1.2.1.2.2.1."
_IFX = "1.3.6.1.2.1.31.1.1.1."
# column -> kind; counters grow per second by the device's rate times the factor
_IF_COLUMNS: dict[str, tuple[str, int]] = {
    _IF + "1": ("index", 0),
    _IF + "2": ("descr", 0),
    _IF + "3": ("int:6", 0),
    _IF + "4": ("int:1500", 0),
    _IF + "5": ("gauge:1000000000", 0),
    _IF + "7": ("int:1", 0),
    _IF + "8": ("int:1", 0),
    _IF + "10": ("c32", 125_000),
    _IF + "11": ("c32", 100),
    _IF + "13": ("c32", 0),
    _IF + "14": ("c32", 0),
    _IF + "16": ("c32", 60_000),
    _IF + "17": ("c32", 80),
    _IF + "19": ("c32", 0),
    _IF + "20": ("c32", 0),
    _IFX + "1": ("name", 0),
    _IFX + "6": ("c64", 125_000),
    _IFX + "7": ("c64", 100),
    _IFX + "10": ("c64", 60_000),
    _IFX + "11": ("c64", 80),
    _IFX + "15": ("gauge:1000", 0),
    _IFX + "18": ("alias", 0),
}


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(arc) for arc in oid.strip(".").split("."))


@dataclass
class _Row:
    oid: str
    encoded_oid: bytes  # the OID's full TLV
    kind: str
    rate: int
    interface: int


class MibShape:
    """The sorted OIDs every simulated device serves, with how each value is made."""

    def __init__(self, interfaces: int):
        rows: list[_Row] = []
        for oid, kind in (
            ("1.3.6.1.2.1.1.1.0", "sysdescr"),
            ("1.3.6.1.2.1.1.2.0", "objectid"),
            (SYS_UPTIME, "uptime"),
            ("1.3.6.1.2.1.1.5.0", "sysname"),
            ("1.3.6.1.2.1.2.1.0", f"int:{interfaces}"),
        ):
            rows.append(_Row(oid, ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid(oid)), kind, 0, 0))
        for column, (kind, rate) in _IF_COLUMNS.items():
            for index in range(1, interfaces + 1):
                oid = f"{column}.{index}"
                encoded = ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid(oid))
                rows.append(_Row(oid, encoded, kind, rate, index))
        rows.sort(key=lambda row: _key(row.oid))
        self.rows = rows
        self.keys = [_key(row.oid) for row in rows]
        self.position = {row.oid: i for i, row in enumerate(rows)}

    def at(self, oid: str) -> int | None:
        """The row of exactly this OID."""
        return self.position.get(oid)

    def after(self, oid: str) -> int:
        """The first row strictly after `oid` (len(rows) past the end)."""
        exact = self.position.get(oid)
        if exact is not None:
            return exact + 1
        return bisect.bisect_right(self.keys, _key(oid))


@dataclass
class SimulatedDevice:
    """One agent's identity and counter rate; values derive from the time."""

    name: str
    address: str
    rate: int  # multiplies the per-column counter growth
    started: float = field(default_factory=time.time)

    def value(self, row: _Row, now: float) -> bytes:
        """The encoded value of `row` now."""
        kind = row.kind
        if kind == "uptime":
            ticks = int((now - self.started) * 100) % 2**32
            return ber.encode_unsigned(ticks, ber.TIMETICKS, ber.MAX_32)
        if kind == "c64":
            count = int((now - self.started + 1000) * row.rate * self.rate * row.interface)
            return ber.encode_unsigned(count % 2**64, ber.COUNTER64, ber.MAX_64)
        if kind == "c32":
            count = int((now - self.started + 1000) * row.rate * self.rate * row.interface)
            return ber.encode_unsigned(count % 2**32, ber.COUNTER32, ber.MAX_32)
        if kind == "sysname":
            return ber.tlv(ber.OCTET_STRING, self.name.encode())
        if kind == "sysdescr":
            return ber.tlv(ber.OCTET_STRING, b"genosd lab responder, simulated router")
        if kind == "objectid":
            return ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid("1.3.6.1.4.1.8072.3.2.10"))
        if kind == "index":
            return ber.encode_integer(row.interface)
        if kind in ("descr", "name"):
            return ber.tlv(ber.OCTET_STRING, f"Ethernet{row.interface}".encode())
        if kind == "alias":
            return ber.tlv(ber.OCTET_STRING, f"to peer {row.interface}".encode())
        if kind.startswith("gauge:"):
            return ber.encode_unsigned(int(kind[6:]), ber.GAUGE32, ber.MAX_32)
        return ber.encode_integer(int(kind[4:]))


class Responder:
    """Answers for every simulated device; `polls` holds the times each address was polled."""

    def __init__(
        self,
        devices: list[SimulatedDevice],
        port: int,
        *,
        community: bytes = b"public",
        interfaces: int = 3,
    ):
        self.devices = {d.address: d for d in devices}
        self.port = port
        self.community = community
        self.shape = MibShape(interfaces)
        self.polls: dict[str, list[float]] = defaultdict(list)
        self.requests = 0
        self.paused: set[str] = set()  # addresses that stay silent (a dead device)
        self._transports: list[asyncio.DatagramTransport] = []

    async def start(self) -> None:
        """Open a socket per device address."""
        loop = asyncio.get_running_loop()
        for address in self.devices:
            transport, _ = await loop.create_datagram_endpoint(
                lambda a=address: _Endpoint(self, a),  # type: ignore[misc]
                local_addr=(address, self.port),
            )
            self._transports.append(transport)

    def close(self) -> None:
        """Close every socket."""
        for transport in self._transports:
            transport.close()
        self._transports.clear()

    def answer(self, address: str, data: bytes) -> bytes | None:
        """The response to one request, or None to stay silent."""
        device = self.devices[address]
        try:
            version, community, pdu = ber.decode_community_message(data)
        except ber.BerError:
            return None
        if version != 1 or community != self.community or not isinstance(pdu, ber.Pdu):
            return None
        self.requests += 1
        now = time.time()
        shape = self.shape
        rows = shape.rows
        parts: list[bytes] = []
        size = 0
        if pdu.tag == ber.GET:
            if any(oid == SYS_UPTIME for oid, _ in pdu.varbinds):
                self.polls[address].append(now)
            for oid, _ in pdu.varbinds:
                at = shape.at(oid)
                encoded = ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid(oid))
                value = device.value(rows[at], now) if at is not None else b"\x81\x00"
                parts.append(ber.tlv(ber.SEQUENCE, encoded + value))
        else:
            repeaters = [oid for oid, _ in pdu.varbinds]
            repetitions = 1 if pdu.tag == ber.GET_NEXT else max(1, pdu.error_index)
            non_repeaters = 0 if pdu.tag == ber.GET_NEXT else max(0, pdu.error_status)
            for oid in repeaters[:non_repeaters]:
                parts.append(self._next(device, oid, now))
            cursors = [shape.after(oid) for oid in repeaters[non_repeaters:]]
            for _ in range(repetitions):
                if not cursors or size > MAX_MESSAGE:
                    break
                for i, position in enumerate(cursors):
                    part = self._row(device, position, repeaters[non_repeaters + i], now)
                    parts.append(part)
                    size += len(part)
                    cursors[i] = position + 1
                if all(position >= len(rows) for position in cursors):
                    break
        varbinds = ber.tlv(ber.SEQUENCE, b"".join(parts))
        return ber.encode_community_message(
            1, community, ber.encode_pdu(ber.RESPONSE, pdu.request_id, 0, 0, varbinds)
        )

    def _next(self, device: SimulatedDevice, oid: str, now: float) -> bytes:
        return self._row(device, self.shape.after(oid), oid, now)

    def _row(self, device: SimulatedDevice, position: int, asked: str, now: float) -> bytes:
        rows = self.shape.rows
        if position >= len(rows):
            encoded = ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid(asked))
            return ber.tlv(ber.SEQUENCE, encoded + _END_OF_VIEW)
        row = rows[position]
        return ber.tlv(ber.SEQUENCE, row.encoded_oid + device.value(row, now))

    def polls_in(self, address: str, since: float, until: float) -> int:
        """Polls `address` received between two times."""
        return sum(1 for at in self.polls.get(address, ()) if since <= at < until)


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder, address: str):
        self.responder = responder
        self.address = address
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.address in self.responder.paused or self.transport is None:
            return
        reply = self.responder.answer(self.address, data)
        if reply is not None:
            self.transport.sendto(reply, addr)


def addresses(first: str, count: int) -> Iterator[str]:
    """`count` consecutive IPv4 addresses from `first`, skipping .0 and .255 host bytes."""
    current = ipaddress.IPv4Address(first)
    made = 0
    while made < count:
        last = int(current) & 0xFF
        if last not in (0, 255):
            yield str(current)
            made += 1
        current += 1


def simulated(first: str, count: int, prefix: str = "sim") -> list[SimulatedDevice]:
    """`count` devices named prefix-00001… on consecutive addresses."""
    return [
        SimulatedDevice(f"{prefix}-{i:05d}", address, rate=1 + i % 7)
        for i, address in enumerate(addresses(first, count), start=1)
    ]


class ResponderThread:
    """A responder on an event loop of its own thread (tests read its counts directly)."""

    def __init__(self, responder: Responder):
        self.responder = responder
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Responder:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.responder.start(), self._loop).result(60)
        return self.responder

    def __exit__(self, *exc: object) -> None:
        self.call(self.responder.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def call(self, fn: Callable[[], object]) -> None:
        """Run `fn` on the responder's loop and wait for it."""

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)


def main() -> None:
    """Serve simulated devices until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first", default="127.1.0.1", help="the first device's address")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--port", type=int, default=1161)
    parser.add_argument("--interfaces", type=int, default=3)
    parser.add_argument("--community", default="public")
    parser.add_argument("--record", help="at exit, write each device's poll times here (JSON)")
    args = parser.parse_args()
    raise_open_files_limit()

    async def serve() -> Responder:
        responder = Responder(
            simulated(args.first, args.count),
            args.port,
            community=args.community.encode(),
            interfaces=args.interfaces,
        )
        await responder.start()
        print(f"ready {len(responder.devices)}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        responder.close()
        print(f"requests {responder.requests}", flush=True)
        return responder

    responder = asyncio.run(serve())
    if args.record:
        names = {d.address: d.name for d in responder.devices.values()}
        record = {names[a]: times for a, times in responder.polls.items()}
        Path(args.record).write_text(json.dumps(record))


if __name__ == "__main__":
    main()
