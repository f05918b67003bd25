"""Syslog as devices send it: RFC 5424, RFC 3164 and vendor variants; stream framing; events."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest

from genosd.errors import ConfigError
from genosd.syslog.classify import Classifier
from genosd.syslog.framing import Deframer, FramingError
from genosd.syslog.message import parse

# received on 2026-12-07 12:00:00 UTC
NOW = float(calendar.timegm((2026, 12, 7, 12, 0, 0)))


def _utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)))


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        # Cisco IOS: sequence number, unsynchronised clock (*), milliseconds, no year: the past
        (
            b"<189>58: *Mar  1 00:05:12.123: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
            {"timestamp": _utc(2026, 3, 1, 0, 5, 12), "hostname": None,
             "msgid": "LINK-3-UPDOWN", "facility": 23, "severity": 5,
             "text": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"},
        ),
        # IOS with `logging origin-id hostname` and a year and zone in the stamp
        (
            b"<187>101: core1: Dec  6 2026 23:59:58.001 UTC: %SYS-5-CONFIG_I: Configured from "
            b"console by admin on vty0 (10.0.0.5)",
            {"timestamp": _utc(2026, 12, 6, 23, 59, 58), "hostname": "core1",
             "msgid": "SYS-5-CONFIG_I", "severity": 3},
        ),
        # IOS without `service timestamps`, and with uptime stamps
        (b"<189>58: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
         {"timestamp": None, "msgid": "LINK-3-UPDOWN"}),
        (b"<189>59: 1d02h: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
         {"timestamp": None, "msgid": "LINK-3-UPDOWN"}),
        # NX-OS: year first, leading colon
        (
            b"<189>: 2026 Dec  7 11:59:00 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up",
            {"timestamp": _utc(2026, 12, 7, 11, 59, 0), "msgid": "ETHPORT-5-IF_UP"},
        ),
        # EOS: BSD header, tag, sequence number, Cisco-style message
        (
            b"<189>Dec  7 11:58:00 leaf1 Ebra: 1234: %LINEPROTO-5-UPDOWN: Line protocol on "
            b"Interface Ethernet1, changed state to down",
            {"hostname": "leaf1", "app": "Ebra", "msgid": "LINEPROTO-5-UPDOWN",
             "text": "%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet1, changed state "
                     "to down"},
        ),
        # Junos BSD: TAG[pid]: EVENT_NAME: text
        (
            b"<28>Dec  7 11:57:00 mx1 mgd[4321]: UI_COMMIT: User 'admin' requested 'commit' "
            b"operation (comment: none)",
            {"hostname": "mx1", "app": "mgd", "procid": "4321", "msgid": "UI_COMMIT",
             "facility": 3, "severity": 4},
        ),
        # a BSD stamp late on 31 December received just after New Year is last year's
        (
            b"<13>Dec 31 23:59:59 h app: x",
            {"timestamp": _utc(2025, 12, 31, 23, 59, 59), "hostname": "h", "app": "app"},
        ),
        # ISO stamp in a BSD header (rsyslog high precision)
        (
            b"<13>2026-12-07T12:00:00.5+01:00 host1 app[3]: hi",
            {"timestamp": _utc(2026, 12, 7, 11, 0, 0) + 0.5, "hostname": "host1",
             "procid": "3", "text": "hi"},
        ),
        # RFC 5424 with structured data (escapes), a BOM before the message
        (
            b'<165>1 2026-12-07T11:00:00.003Z mx1.example.net mgd 99 UI_COMMIT '
            b'[junos@2636.1.1.1.2.18 username="admin" comment="a \\"quoted\\" \\] note"]'
            b"[origin ip=\"10.0.0.1\"] \xef\xbb\xbfUser 'admin' requested 'commit'",
            {"format": "rfc5424", "timestamp": _utc(2026, 12, 7, 11, 0, 0) + 0.003,
             "hostname": "mx1.example.net", "app": "mgd", "procid": "99", "msgid": "UI_COMMIT",
             "structured": {"junos@2636.1.1.1.2.18": {"username": "admin",
                                                      "comment": 'a "quoted" ] note'},
                            "origin": {"ip": "10.0.0.1"}},
             "text": "User 'admin' requested 'commit'"},
        ),
        # RFC 5424 with every optional field nil and no message
        (b"<14>1 - - - - - -", {"format": "rfc5424", "timestamp": None, "hostname": None,
                                "app": None, "text": ""}),
        # no PRI at all, or an impossible one: kept whole as user.notice
        (b"just text\n", {"format": "raw", "facility": 1, "severity": 5, "text": "just text"}),
        (b"<999>x", {"format": "raw", "text": "<999>x"}),
        # invalid UTF-8 is replaced, not refused
        (b"<13>Dec  7 11:00:00 h app: caf\xe9", {"text": "caf\ufffd"}),
    ],
)  # fmt: skip
def test_formats(raw: bytes, expect: dict[str, object]) -> None:
    now = _utc(2026, 1, 1, 0, 0, 30) if b"Dec 31" in raw else NOW
    message = parse(raw, now)
    for name, value in expect.items():
        assert getattr(message, name) == value, name


def test_names_follow_telegraf() -> None:
    message = parse(b"<189>x", NOW)
    assert (message.facility_name, message.severity_name) == ("local7", "notice")
    assert parse(b"<0>x", NOW).severity_name == "emerg"


def test_octet_counting_split_anywhere_and_mixed_with_lf_framing() -> None:
    frames = [b"<13>1 - h a - - - one", b"<14>Dec  7 11:00:00 h app: two", b"<15>three"]
    stream = b"%d %s" % (len(frames[0]), frames[0]) + frames[1] + b"\n" + frames[2] + b"\r\n"
    for cut in range(1, len(stream)):
        deframer = Deframer(8192)
        got = deframer.feed(stream[:cut]) + deframer.feed(stream[cut:])
        assert got == frames, cut


def test_a_last_lf_frame_without_its_lf_is_kept_at_close() -> None:
    deframer = Deframer(8192)
    assert deframer.feed(b"<13>first\n<13>last") == [b"<13>first"]
    assert deframer.rest() == b"<13>last"


def test_long_frames_are_cut_and_counted_and_the_stream_goes_on() -> None:
    deframer = Deframer(500)
    body = b"<13>" + b"x" * 996
    got = deframer.feed(b"1000 " + body[:600])
    got += deframer.feed(body[600:] + b"5 <13>y")
    assert got == [body[:500], b"<13>y"]
    got = deframer.feed(b"<13>" + b"z" * 800)
    got += deframer.feed(b"z" * 100 + b"\n<13>after\n")
    assert got == [b"<13>" + b"z" * 496, b"<13>after"]
    assert deframer.truncated == 2


def test_a_stream_that_is_not_syslog_is_refused() -> None:
    with pytest.raises(FramingError):
        Deframer(8192).feed(b"12345678901234 x")
    with pytest.raises(FramingError):
        Deframer(8192).feed(b"12ab <13>x")


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
         {"kind": "link_down", "interface": "GigabitEthernet0/1", "state": "down"}),
        ("%LINK-5-UPDOWN: Interface Gi0/2, changed state to administratively down",
         {"kind": "link_down", "interface": "Gi0/2", "state": "administratively down"}),
        ("%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet1, changed state to up",
         {"kind": "link_up", "interface": "Ethernet1", "state": "up"}),
        ("%ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface Ethernet1/1 is down (Link failure)",
         {"kind": "link_down", "platform": "nxos", "interface": "Ethernet1/1",
          "reason": "Link failure"}),
        ("SNMP_TRAP_LINK_DOWN: ifIndex 526, ifAdminStatus up(1), ifOperStatus down(2), "
         "ifName ge-0/0/1",
         {"kind": "link_down", "platform": "junos", "interface": "ge-0/0/1", "state": "down"}),
        ("%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down BGP Notification sent",
         {"kind": "bgp_down", "neighbor": "10.0.0.2", "state": "Down",
          "reason": "BGP Notification sent"}),
        ("%BGP-5-ADJCHANGE: neighbor 2001:db8::2 vpn vrf CUST Up",
         {"kind": "bgp_up", "neighbor": "2001:db8::2", "vrf": "CUST", "state": "Up"}),
        ("%BGP-5-ADJCHANGE: peer 10.0.0.2 (VRF default AS 65002) old state Established event "
         "Stop new state Idle",
         {"kind": "bgp_down", "platform": "eos", "neighbor": "10.0.0.2", "vrf": "default",
          "asn": "65002", "reason": "Stop", "state": "Idle"}),
        ("bgp_event: peer 192.168.1.2 (External AS 65001) changed state from OpenConfirm to "
         "Established (event RecvKeepAlive) (instance master)",
         {"kind": "bgp_up", "platform": "junos", "neighbor": "192.168.1.2", "asn": "65001",
          "state": "Established"}),
        ("%OSPF-5-ADJCHG: Process 1, Nbr 10.0.0.2 on GigabitEthernet0/1 from FULL to DOWN, "
         "Neighbor Down: Dead timer expired",
         {"kind": "ospf_down", "platform": "ios", "neighbor": "10.0.0.2",
          "interface": "GigabitEthernet0/1", "state": "DOWN",
          "reason": "Neighbor Down: Dead timer expired"}),
        ("%OSPF-5-ADJCHANGE:  ospf-1 [4000] Nbr 10.0.0.2 on Ethernet1/1 went FULL",
         {"kind": "ospf_up", "platform": "nxos", "neighbor": "10.0.0.2",
          "interface": "Ethernet1/1", "state": "FULL"}),
        ("RPD_OSPF_NBRDOWN: OSPF neighbor 10.0.0.2 (realm ospf-v2 ge-0/0/1.0 area 0.0.0.0) state "
         "changed from Full to Init due to 1WayRcvd (event reason: neighbor is in one-way mode)",
         {"kind": "ospf_down", "platform": "junos", "neighbor": "10.0.0.2",
          "interface": "ge-0/0/1.0", "state": "Init", "reason": "1WayRcvd"}),
        ("%SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.5)",
         {"kind": "config_changed", "reason": "console", "user": "admin",
          "address": "10.0.0.5"}),
        ("%VSHD-5-VSHD_SYSLOG_CONFIG_I: Configured from vty by admin on 10.0.0.5@pts/0",
         {"kind": "config_changed", "platform": "nxos", "reason": "vty", "user": "admin",
          "address": "10.0.0.5"}),
        ("UI_COMMIT: User 'admin' requested 'commit' operation (comment: none)",
         {"kind": "config_changed", "platform": "junos", "user": "admin", "reason": "commit"}),
        ("%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] [Source: 10.0.0.5] "
         "[localport: 22] [Reason: Login Authentication Failed] at 12:00:00 UTC Mon Dec 7 2026",
         {"kind": "login_failed", "platform": "ios", "user": "admin", "address": "10.0.0.5",
          "reason": "Login Authentication Failed"}),
        ("SSHD_LOGIN_FAILED: Login failed for user 'root' from host '10.0.0.9'",
         {"kind": "login_failed", "platform": "junos", "user": "root", "address": "10.0.0.9"}),
        ("sshd[99]: Failed password for invalid user bob from 10.0.0.7 port 5555 ssh2",
         {"kind": "login_failed", "user": "bob", "address": "10.0.0.7"}),
        ("%SYS-6-LOGGINGHOST_STARTSTOP: Logging to host 10.0.0.1 port 514 started", None),
    ],
)  # fmt: skip
def test_structured_events(text: str, event: dict[str, str] | None) -> None:
    assert Classifier.load().classify(text) == event


def test_a_user_catalogue_goes_first_and_a_bad_one_names_file_and_line(tmp_path: Path) -> None:
    mine = tmp_path / "events.yaml"
    mine.write_text(
        "- kind: power_supply_failed\n  contains: PWR\n"
        "  pattern: '%PLATFORM_ENV-1-PWR: (?P<reason>.*)'\n"
    )
    classifier = Classifier.load(mine)
    assert classifier.classify("%PLATFORM_ENV-1-PWR: Power supply 2 failed") == {
        "kind": "power_supply_failed",
        "reason": "Power supply 2 failed",
    }
    assert classifier.classify("%LINK-3-UPDOWN: Interface x, changed state to up") is not None
    mine.write_text(
        "- kind: ok\n  contains: a\n  pattern: 'a'\n"
        "- kind: bad\n  contains: b\n  pattern: '(?P<colour>b'\n"
        "- kind: unknown_group\n  contains: c\n  pattern: '(?P<colour>c)'\n"
    )
    with pytest.raises(ConfigError) as failure:
        Classifier.load(mine)
    problems = failure.value.problems
    assert any(p.startswith(f"{mine}:6: 1.pattern") for p in problems), problems
    assert any(f"{mine}:9: 2.pattern" in p and "colour" in p for p in problems), problems
