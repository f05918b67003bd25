"""Polling real agents: net-snmp snmpd and the snmpsim lab (recordings of real devices)."""

import asyncio
import copy
import socket
import subprocess
from pathlib import Path

from pydantic import SecretStr

from genosd.collectors.scheduler import PollScheduler
from genosd.collectors.snmp import poll_device
from genosd.collectors.snmp_client import SessionFactory
from genosd.inventory import SnmpTarget, load_inventory
from genosd.lab.snmp import interface_byte_rate
from genosd.lab.topology import NODES
from genosd.metrics.rates import CounterRates
from genosd.metrics.telegraf import health_point, poll_to_points
from genosd.settings import load_settings
from genosd.settings_sections import SnmpCredential
from tests.servers import snmpsim


def _target(
    port: int, community: str = "public", timeout: float = 1.0, retries: int = 0
) -> SnmpTarget:
    return SnmpTarget(
        "127.0.0.1",
        port,
        "2c",
        SnmpCredential(community=SecretStr(community)),
        timeout,
        retries,
        25,
        60,
    )


def _walk_reference(port: int, oid: str) -> dict[str, str]:
    """What net-snmp's own snmpbulkwalk sees: {index: value}."""
    out = subprocess.run(
        ["snmpbulkwalk", "-v2c", "-cpublic", "-On", "-Oqv", "-Oe", f"127.0.0.1:{port}", oid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    idx = subprocess.run(
        ["snmpbulkwalk", "-v2c", "-cpublic", "-On", "-Oq", f"127.0.0.1:{port}", oid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return {
        line.split()[0].rsplit(".", 1)[1]: value.strip('"')
        for line, value in zip(idx, out, strict=True)
    }


async def test_snmpd_interface_names_and_counters_match_the_agent(snmpd):
    session = SessionFactory().open(_target(snmpd))
    poll = await poll_device("local", "127.0.0.1", session, 25)
    assert poll.ok, poll.error
    names = _walk_reference(snmpd, "1.3.6.1.2.1.31.1.1.1.1")
    assert {i: row["ifName"] for i, row in poll.interfaces.items()} == names
    octets_after = _walk_reference(snmpd, "1.3.6.1.2.1.31.1.1.1.6")
    for index, row in poll.interfaces.items():
        # counters only grow: the reference read happened after our poll
        assert row["ifHCInOctets"] <= int(octets_after[index])
    assert any(m.total_bytes for m in poll.memory)


async def test_lab_devices_poll_with_rates_matching_the_simulated_traffic(lab):
    settings = load_settings(None, extra_secrets_dirs=[lab.secrets_dir])
    inventory = load_inventory(lab.inventory_dir, settings)
    polled = [d for d in inventory.select() if d.snmp is not None]
    assert {d.snmp.version for d in polled if d.snmp} == {"2c", "3"}
    ssh_only = {d.name: d.platform for d in inventory.devices.values() if d.snmp is None}
    assert ssh_only == {node.name: node.platform for node in NODES}

    async def ignore(_):
        return None

    scheduler = PollScheduler(ignore, concurrency=10, backoff_max=60)
    rates = CounterRates()
    try:
        for _ in range(2):
            polls = [await scheduler.poll_once(d) for d in polled]
            points = [pt for p in polls for pt in poll_to_points(p, rates)]
            await asyncio.sleep(3)
    finally:
        await scheduler.stop()
    assert all(p.ok for p in polls), [p.error for p in polls]
    by_device = {p.device: p for p in polls}
    assert by_device["lab-junos-r1"].cpu and by_device["lab-ios-sw1"].memory
    old_device = by_device["lab-ubnt-ap1"].interfaces.values()
    assert old_device and all("ifInOctets" in r and "ifHCInOctets" not in r for r in old_device)
    assert any(p.tags["device"] == "lab-ubnt-ap1" and "in_bps" in p.fields for p in points)
    interface_points = [p for p in points if p.measurement == "interface" and "in_bps" in p.fields]
    assert len(interface_points) > 100
    for point in interface_points:
        expected = interface_byte_rate(int(point.tags["ifIndex"])) * 8
        assert abs(point.fields["in_bps"] - expected) / expected < 0.15, point.to_line()


async def test_a_silent_device_times_out_without_delaying_others(snmpd):
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))  # bound, never answers
    factory = SessionFactory()
    try:
        slow = poll_device(
            "dead", "127.0.0.1", factory.open(_target(dead.getsockname()[1], timeout=2.0)), 25
        )
        fast = poll_device("live", "127.0.0.1", factory.open(_target(snmpd)), 25)
        dead_task = asyncio.create_task(slow)
        live = await fast
        assert live.ok and live.duration < 1.5
        result = await dead_task
        assert not result.ok and result.timed_out
    finally:
        dead.close()


async def test_garbage_answers_are_a_failed_poll_not_a_crash():
    class Garbage(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(b"\x30\x03\x02\x01\xff garbage", addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Garbage, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        poll = await poll_device(
            "junk", "127.0.0.1", SessionFactory().open(_target(port, timeout=0.5)), 25
        )
        assert not poll.ok and poll.error
    finally:
        transport.close()


async def poll_recording(tmp_path: Path, data: Path, name: str):
    """One successful poll of the snmpsim recording `data/<name>.snmprec` (agent started, stopped)."""
    async with snmpsim(data, tmp_path / "cache") as port:
        session = SessionFactory().open(_target(port, name, timeout=1.0, retries=2))
        for _ in range(40):  # the agent needs a moment to index its recordings
            poll = await poll_device(name, "127.0.0.1", session, 25)
            if poll.ok:
                break
            await asyncio.sleep(0.5)
        assert poll.ok, poll.error
        return poll


async def test_wrong_value_types_are_dropped_and_reported(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "odd.snmprec").write_text(
        "1.3.6.1.2.1.1.1.0|4|odd agent\n1.3.6.1.2.1.1.3.0|67|100\n1.3.6.1.2.1.1.5.0|4|odd\n"
        "1.3.6.1.2.1.2.2.1.2.1|4|eth0\n1.3.6.1.2.1.2.2.1.8.1|4|up\n"
        "1.3.6.1.2.1.31.1.1.1.1.1|4|eth0\n1.3.6.1.2.1.31.1.1.1.6.1|4|not-a-counter\n"
    )
    poll = await poll_recording(tmp_path, data, "odd")
    assert poll.interfaces["1"]["ifName"] == "eth0"
    assert "ifHCInOctets" not in poll.interfaces["1"]
    assert any("ifHCInOctets.1" in p for p in poll.problems)
    assert any("ifOperStatus.1" in p for p in poll.problems)


async def test_a_counter32_in_a_64_bit_column_is_kept_and_wraps_at_32_bits(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "narrow.snmprec").write_text(
        "1.3.6.1.2.1.1.1.0|4|narrow agent\n1.3.6.1.2.1.1.3.0|67|100\n1.3.6.1.2.1.1.5.0|4|narrow\n"
        "1.3.6.1.2.1.2.2.1.2.1|4|eth0\n1.3.6.1.2.1.31.1.1.1.1.1|4|eth0\n"
        "1.3.6.1.2.1.31.1.1.1.6.1|65|4294967000\n"  # ifHCInOctets as a Counter32 (tag 65)
        "1.3.6.1.2.1.31.1.1.1.10.1|70|1000\n"  # ifHCOutOctets, a proper Counter64
    )
    first = await poll_recording(tmp_path, data, "narrow")
    assert first.interfaces["1"]["ifHCInOctets"] == 4294967000
    assert first.narrow_counters == {("1", "ifHCInOctets")}
    assert any("a Counter32 where the MIB says Counter64" in p for p in first.problems)
    # the next reading has wrapped past 2^32: a 32-bit wrap, so a rate (a 64-bit counter going
    # down would be a discontinuity and give none)
    rates = CounterRates()
    poll_to_points(first, rates)
    second = copy.deepcopy(first)
    second.started += 10
    second.counters_at += 10
    second.system["sysUpTime"] = int(first.system["sysUpTime"]) + 1000
    second.interfaces["1"]["ifHCInOctets"] = 704  # 1,000 octets after the wrap
    (interface,) = [p for p in poll_to_points(second, rates) if p.measurement == "interface"]
    assert interface.fields["in_bps"] == 1000 * 8 / 10
    health = health_point(second, "narrow", None)
    assert health.fields["counter32_in_counter64"] == 1
