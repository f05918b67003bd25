"""Syslog ingest: messages per second parsed, attributed, masked, classified and stored by the
daemon's receiver, beside a bare socket reader on the same stream.

A sender process (its own CPU) writes N realistic device messages (a mix of IOS, NX-OS, EOS and
Junos lines, a third of them structured events) over one TCP connection with octet counting, as
fast as the receiver reads: TCP keeps every message, so the figure is throughput, not loss. The
receiver is the daemon's runtime built from a state directory of its own (stored in SQLite,
published on the event bus, written as `syslog` points to the local metrics store), timed from
the first byte to the last message stored. The reference reads the same stream with a bare
asyncio reader that only frames and counts: the ceiling of Python reading a socket here. Then
the same over UDP at a fixed offered rate, counting what was kept.

Run from the repository root:
    .venv/bin/python -m bench.syslog_ingest [--messages 200000 --rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.syslog.framing import Deframer

SENDER = r"""
import random, socket, sys, time
kind, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
lines = [
    b"<187>%d: *Dec  7 11:00:00.001: %%LINK-3-UPDOWN: Interface GigabitEthernet0/%d, changed state to down",
    b"<189>%d: core1: *Dec  7 11:00:01.001: %%SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.%d)",
    b"<190>%d: *Dec  7 11:00:02.001: %%SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(4410) -> 10.2.2.2(%d), 1 packet",
    b"<189>: 2026 Dec  7 11:00:03 UTC: %%ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/%d is down (Link failure) %d",
    b"<189>Dec  7 11:00:04 leaf1 Ebra: %d: %%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet%d, changed state to up",
    b"<30>Dec  7 11:00:05 mx1 rpd[1234]: %d bgp_read_message: peer 10.0.0.%d: received unexpected EOF",
    b"<28>1 2026-12-07T11:00:06.123Z mx1 mgd %d UI_COMMIT [junos@2636.1.1.1.2.18 username=\"ops\"] User 'ops' requested 'commit' operation %d",
    b"<134>Dec  7 11:00:07 fw1 kernel: %d ACCEPT IN=eth0 OUT=eth1 SRC=10.0.0.1 DST=10.9.9.9 LEN=%d",
]
messages = [lines[i % len(lines)] % (i, i % 48) for i in range(count)]
if kind == "tcp":
    s = socket.create_connection(("127.0.0.1", port))
    batch = []
    for m in messages:
        batch.append(b"%d %s" % (len(m), m))
        if len(batch) == 500:
            s.sendall(b"".join(batch)); batch = []
    s.sendall(b"".join(batch))
    s.close()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.perf_counter()
    for n, m in enumerate(messages):
        s.sendto(m, ("127.0.0.1", port))
        if rate and n % 100 == 0:
            ahead = n / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
"""


async def _send(kind: str, port: int, count: int, rate: float = 0.0) -> None:
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SENDER, kind, str(port), str(count), str(rate)
    )
    await sender.wait()


async def bare_reader(count: int) -> float:
    """Seconds for a bare asyncio reader to frame and count `count` messages."""
    done = asyncio.get_running_loop().create_future()
    started: list[float] = []
    seen = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        deframer = Deframer(8192)
        while data := await reader.read(65536):
            if not started:
                started.append(time.perf_counter())
            seen += len(deframer.feed(data))
        if seen >= count and not done.done():
            done.set_result(time.perf_counter())
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await _send("tcp", port, count)
    finished = await asyncio.wait_for(done, 600)
    server.close()
    return finished - started[0]


def _setup(directory: Path) -> Path:
    inventory = directory / "inventory"
    inventory.mkdir()
    hosts = "".join(
        f"{name}:\n  hostname: 10.0.0.{n + 1}\n  platform: {platform}\n"
        for n, (name, platform) in enumerate(
            [("core1", "ios"), ("leaf1", "eos"), ("mx1", "junos"), ("fw1", "linux")]
        )
    )
    (inventory / "hosts.yaml").write_text(hosts)
    config = directory / "genosd.yaml"
    config.write_text(
        f"state_dir: {directory / 'state'}\ninventory_dir: {inventory}\n"
        "traps: {enabled: false}\n"
        "syslog: {host: 127.0.0.1, udp_port: 0, tcp_port: 0, rate_per_source: 10000000,"
        " queue_size: 5000000}\n"
    )
    return config


async def genosd_receiver(count: int, kind: str, rate: float = 0.0) -> tuple[float, int, float]:
    """Seconds from the first message to the last one stored, how many were stored, and the
    CPU seconds this process (the receiver: event loop and database thread) spent meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(Sources(_setup(Path(tmp))))
        await runtime.start()
        try:
            service = runtime.syslog
            port = service.listening[kind][1]
            sending = asyncio.create_task(_send(kind, port, count, rate))
            counter = service.received.labels(kind)
            while counter._value.get() == 0:  # noqa: ASYNC110 (a counter, not an event)
                await asyncio.sleep(0.001)
            started, cpu = time.perf_counter(), time.process_time()
            stored = 0
            while True:
                await asyncio.sleep(0.05)
                if sending.done() and not service._queue:
                    stored = await runtime.core.db.run(
                        lambda db: db.execute("SELECT COUNT(*) FROM syslog").fetchone()[0]
                    )
                    if stored >= counter._value.get() and (kind == "udp" or stored >= count):
                        break
            return time.perf_counter() - started, stored, time.process_time() - cpu
        finally:
            await runtime.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--udp-rate", type=float, default=20_000)
    args = parser.parse_args()
    bare, ours, cpu = [], [], []
    for _ in range(args.rounds):
        bare.append(await bare_reader(args.messages))
        took, stored, spent = await genosd_receiver(args.messages, "tcp")
        assert stored == args.messages, stored
        ours.append(took)
        cpu.append(spent)
    n = args.messages
    print(f"TCP, {n} messages, {args.rounds} rounds (median):")
    print(f"  bare reader (frame + count): {n / statistics.median(bare):10,.0f} msg/s")
    print(f"  genosd (parse..stored):      {n / statistics.median(ours):10,.0f} msg/s")
    print(f"  ratio genosd / bare:         {statistics.median(bare) / statistics.median(ours):.2f}")
    print(
        f"  receiver CPU: {statistics.median(cpu) / n * 1e6:.1f} us per message "
        f"({statistics.median(cpu) / statistics.median(ours):.0%} of a core)"
    )
    udp_count = int(args.udp_rate * 10)
    took, stored, _ = await genosd_receiver(udp_count, "udp", args.udp_rate)
    print(
        f"UDP offered at {args.udp_rate:,.0f}/s for 10 s: {stored}/{udp_count} stored "
        f"({stored / udp_count:.1%}), {stored / took:,.0f} msg/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
