"""The troubleshooting checks on device output as devices print it (parsed by the same TextFSM
templates the facts use), the path search, and the lookups' argument checks."""

from __future__ import annotations

import time

import pytest

from genosd.collectors.facts import parse
from genosd.errors import InvalidRequestError
from genosd.metrics.model import Point
from genosd.platforms import platform
from genosd.troubleshoot import flaps, interfaces, links, lookups, routing
from genosd.troubleshoot.path import find_path

IOS_CRC = """GigabitEthernet0/1 is up, line protocol is up
  Hardware is iGbE, address is 5254.0012.3456 (bia 5254.0012.3456)
  Description: to core-2
  Internet address is 10.0.12.1/30
  MTU 1500 bytes, BW 1000000 Kbit/sec, DLY 10 usec,
     reliability 250/255, txload 1/255, rxload 1/255
  Encapsulation ARPA, loopback not set
  Keepalive set (10 sec)
  Full Duplex, 1Gbps, media type is RJ45
  output flow-control is unsupported, input flow-control is unsupported
  ARP type: ARPA, ARP Timeout 04:00:00
  Last input 00:00:00, output 00:00:00, output hang never
  Last clearing of "show interface" counters 1d02h
  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0
  Queueing strategy: fifo
  Output queue: 0/40 (size/max)
  5 minute input rate 2000 bits/sec, 3 packets/sec
  5 minute output rate 1000 bits/sec, 1 packets/sec
     9123456 packets input, 912345678 bytes, 0 no buffer
     Received 1234 broadcasts (0 IP multicasts)
     0 runts, 0 giants, 0 throttles
     4711 input errors, 4650 CRC, 61 frame, 0 overrun, 0 ignored
     8123456 packets output, 812345678 bytes, 0 underruns
     0 output errors, 0 collisions, 1 interface resets
     0 unknown protocol drops
     0 output buffer failures, 0 output buffers swapped out
GigabitEthernet0/2 is up, line protocol is up
  Hardware is iGbE, address is 5254.0012.3457 (bia 5254.0012.3457)
  MTU 1500 bytes, BW 1000000 Kbit/sec, DLY 10 usec,
     reliability 255/255, txload 230/255, rxload 1/255
  Encapsulation ARPA, loopback not set
  Keepalive set (10 sec)
  Full Duplex, 1Gbps, media type is RJ45
  output flow-control is unsupported, input flow-control is unsupported
  ARP type: ARPA, ARP Timeout 04:00:00
  Last input 00:00:00, output 00:00:00, output hang never
  Last clearing of "show interface" counters never
  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 88213
  Queueing strategy: fifo
  Output queue: 0/40 (size/max)
  5 minute input rate 2000 bits/sec, 3 packets/sec
  5 minute output rate 905000000 bits/sec, 80000 packets/sec
     9123456 packets input, 912345678 bytes, 0 no buffer
     Received 1234 broadcasts (0 IP multicasts)
     0 runts, 0 giants, 0 throttles
     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored
     8123456 packets output, 812345678 bytes, 0 underruns
     0 output errors, 0 collisions, 1 interface resets
     0 unknown protocol drops
     0 output buffer failures, 0 output buffers swapped out
"""

IOS_BGP = """BGP router identifier 10.255.0.1, local AS number 65001
BGP table version is 9, main routing table version 9
4 network entries using 992 bytes of memory

Neighbor        V           AS MsgRcvd MsgSent   TblVer  InQ OutQ Up/Down  State/PfxRcd
10.0.12.2       4        65002    1234    1230        9    0    0 2d03h           3
10.0.13.2       4        65003       0       0        1    0    0 00:04:12 Active
10.0.14.2       4        65004       0       0        1    0    0 never    Idle (Admin)
"""

IOS_OSPF = """
Neighbor ID     Pri   State           Dead Time   Address         Interface
10.255.0.2        1   FULL/DR         00:00:33    10.0.12.2       GigabitEthernet0/1
10.255.0.3        1   EXSTART/BDR     00:00:38    10.0.13.2       GigabitEthernet0/2
10.255.0.4        0   2WAY/DROTHER    00:00:31    10.0.14.2       GigabitEthernet0/3
"""


def _rows(text: str, command: str = "show interfaces") -> dict[str, dict]:
    return {r["interface"]: r for r in parse(platform("ios"), command, text)}


def test_crc_errors_are_the_wire_and_drops_without_errors_are_congestion():
    rows = _rows(IOS_CRC)
    crc = interfaces.diagnose("r1", "GigabitEthernet0/1", rows["GigabitEthernet0/1"], None)
    assert [f.check for f in crc] == ["interface_errors"]
    assert crc[0].summary.startswith("4650 CRC errors (99% of input errors)")
    assert "cable" in crc[0].advice and "duplex" in crc[0].advice
    assert crc[0].severity == "warning"  # counters only: nothing says it is happening now
    now = interfaces.diagnose(
        "r1", "GigabitEthernet0/1", rows["GigabitEthernet0/1"], {"in_errors_rate": 12.5}
    )
    assert now[0].severity == "critical" and "12.5 input errors/s now" in now[0].summary
    busy = interfaces.diagnose(
        "r1",
        "GigabitEthernet0/2",
        rows["GigabitEthernet0/2"],
        {"out_discards_rate": 40.0, "out_utilization": 91.0},
    )
    assert [f.check for f in busy] == ["discards"]
    assert "88213 out" in busy[0].summary and "utilisation 91%" in busy[0].summary
    assert "the link is busy" in busy[0].advice
    assert interfaces.diagnose("r1", "Gi0/3", {"crc": "0", "input_errors": "0"}, {}) == []


def test_errors_without_crc_name_their_cause():
    row = {"input_errors": "120", "crc": "0", "giants": "118", "runts": "2"}
    [finding] = interfaces.diagnose("r1", "Gi0/1", row, None)
    assert "118 giants (the far end sends frames over this MTU)" in finding.summary
    assert "2 runts" in finding.summary


def test_late_collisions_point_at_duplex():
    row = {"duplex": "half-duplex", "collisions": "500", "late_collisions": "37"}
    [finding] = interfaces.diagnose("nx1", "Ethernet1/2", row, None)
    assert finding.check == "duplex" and finding.severity == "critical"


@pytest.mark.parametrize(
    ("text", "duplex", "speed"),
    [
        ("Full Duplex|1Gbps", "full", 1000),
        ("Half-duplex|100Mb/s", "half", 100),
        ("full-duplex|1000 Mb/s", "full", 1000),
        ("a-full|a-10G", "full", None),
        ("Auto-duplex|Auto-speed", "auto", None),
        ("full|10Gb/s", "full", 10000),
    ],
)
def test_duplex_and_speed_as_platforms_print_them(text: str, duplex: str, speed: int | None):
    d, s = text.split("|")
    row = {"duplex": d, "speed": s}
    assert interfaces.duplex_of(row) == duplex
    assert interfaces.speed_of(row) == speed


LINK = {
    "a": "r1",
    "a_interface": "Gi0/3",
    "b": "nx1",
    "b_interface": "Ethernet1/2",
    "state": "up",
    "seen_from": ("nx1", "r1"),
}


def test_both_ends_of_a_cable():
    half, full = {"duplex": "Half Duplex", "speed": "100Mbps"}, {"duplex": "full", "speed": "1G"}
    checks = {f.check for f in links.mismatches(LINK, half, full)}
    assert checks == {"duplex_mismatch", "speed_mismatch"}
    assert links.mismatches(LINK, full, dict(full)) == []
    assert links.mismatches(LINK, None, full) == []
    one_sided = {**LINK, "seen_from": ("nx1",)}
    [lost] = links.neighbor_loss(one_sided, {"r1", "nx1"})
    assert lost.device == "r1" and "no longer lists nx1" in lost.summary
    assert links.neighbor_loss(one_sided, {"nx1"}) == []  # r1 has no facts: nothing to say
    assert links.neighbor_loss({**LINK, "state": "down"}, set())[0].check == "link_down"


def test_flaps_are_counted_from_the_poll_history():
    now = time.time_ns()
    points = [
        Point("interface", {"ifName": "Gi0/1"}, {"ifOperStatus": status}, now - (10 - i) * 10**9)
        for i, status in enumerate([1, 2, 1, 2, 1, 1])
    ] + [
        Point("interface", {"ifName": "Gi0/2"}, {"ifOperStatus": status}, now - (10 - i) * 10**9)
        for i, status in enumerate([1, 2, 1, 1])
    ]
    [finding] = flaps.flaps("sw1", points, 10, threshold=3)
    assert finding.subject == "Gi0/1" and finding.evidence["changes"] == 4
    assert "now up" in finding.summary


def test_bgp_and_ospf_neighbours_from_real_output():
    bgp = routing.bgp("r1", parse(platform("ios"), "show ip bgp summary", IOS_BGP))
    assert {(f.subject, f.severity) for f in bgp} == {
        ("10.0.13.2", "critical"),
        ("10.0.14.2", "critical"),
    }
    ospf = routing.ospf("r1", parse(platform("ios"), "show ip ospf neighbor", IOS_OSPF))
    assert [(f.subject, f.severity) for f in ospf] == [("10.255.0.3", "critical")]
    assert "MTU" in ospf[0].advice


def test_lookup_arguments_are_what_they_claim():
    ios = platform("ios")
    assert lookups.command(ios, "ping", "10.0.0.1") == "ping 10.0.0.1 repeat 5"
    assert lookups.command(ios, "mac", "00:11:22:AA:bb:cc") == (
        "show mac address-table address 0011.22aa.bbcc"
    )
    assert lookups.command(platform("junos"), "mac", "0011.22aa.bbcc") == (
        "show ethernet-switching table | match 00:11:22:aa:bb:cc"
    )
    assert lookups.command(ios, "route", "10.1.2.3/16") == "show ip route 10.1.0.0/16"
    assert lookups.command(ios, "bgp", None) == "show ip bgp summary"
    for kind, bad in (
        ("ping", "1.1.1.1; reload"),
        ("ping", "host | redirect tftp://x"),
        ("traceroute", "-rf /"),
        ("arp", "core-1"),
        ("route", "10.0.0.0/40"),
        ("counters", "Gi0/1 | include x"),
        ("counters", "Gi\n0/1"),
        ("counters", "Gi0/1\treload"),
        ("traceroute", "exämple.net"),
        ("ping", "core-1\\x"),
        ("mac", "00:11:22:aa:bb:cc\nreload"),
        ("ping", None),
        ("whois", "x"),
    ):
        with pytest.raises(InvalidRequestError):
            lookups.command(ios, kind, bad)


def test_ping_outputs_of_each_platform():
    nxos = (
        "--- 10.0.0.2 ping statistics ---\n5 packets transmitted, 4 packets received, "
        "20.00% packet loss\nround-trip min/avg/max = 0.5/0.7/1.1 ms\n"
    )
    assert lookups.ping_summary(nxos) == {
        "sent": 5,
        "received": 4,
        "loss_percent": 20.0,
        "rtt_ms": {"min": 0.5, "avg": 0.7, "max": 1.1},
    }
    junos = (
        "--- 10.0.0.2 ping statistics ---\n5 packets transmitted, 0 packets received, "
        "100% packet loss\n"
    )
    assert lookups.ping_summary(junos)["loss_percent"] == 100.0
    eos = "5 packets transmitted, 5 received, 0% packet loss, time 4ms\nrtt min/avg/max/mdev = 0.1/0.2/0.4/0.1 ms"
    assert lookups.ping_summary(eos)["rtt_ms"]["max"] == 0.4


def test_the_path_prefers_links_that_are_up():
    def link(a: str, b: str, state: str = "up") -> dict:
        return {
            "a": a,
            "a_interface": f"to-{b}",
            "b": b,
            "b_interface": f"to-{a}",
            "state": state,
            "seen_from": (a, b),
        }

    graph = {
        "links": [link("a", "b", "down"), link("a", "c"), link("c", "d"), link("d", "b")],
        "nodes": [],
    }
    found = find_path(graph, "a", "b", {("a", "to-c"): {"out_utilization": 42.0}})
    assert [h["to"] for h in found["hops"]] == ["c", "d", "b"]
    assert found["hops"][0]["out_utilization"] == 42.0 and not found["through_down_link"]
    only_down = find_path({"links": [link("a", "b", "down")], "nodes": []}, "a", "b", {})
    assert only_down["found"] and only_down["through_down_link"]
    assert not find_path(graph, "a", "z", {})["found"]
