"""Unmasking a stored version's secrets from the live config, line by line and section by section."""

from __future__ import annotations

from genosd.config.restore import unmask
from genosd.config.secrets import Masker
from genosd.platforms import platform

IOS = Masker(platform("ios"), "r1", b"k" * 32)


def test_unmask_takes_each_secret_from_the_same_line_of_the_live_config():
    stored = (
        "hostname r1\nusername admin privilege 15 secret 9 <masked>\n"
        "username gone privilege 1 secret 9 <masked>\nsnmp-server community <masked> RO\n"
        "tacacs server T1\n address ipv4 192.0.2.1\n key 7 <masked>\n"
        "tacacs server T2\n address ipv4 192.0.2.2\n key 7 <masked>\n"
    )
    live = (
        "hostname r1-new\nusername admin privilege 15 secret 9 $9$live\n"
        "snmp-server community live-community RO\n"
        "tacacs server T1\n address ipv4 192.0.2.1\n key 7 0822455D0A16\n"
    )
    restored = unmask(IOS, stored, live)
    lines = restored.text.splitlines()
    assert "hostname r1" in lines  # non-secret lines come from the stored version
    assert "username admin privilege 15 secret 9 $9$live" in lines
    assert "snmp-server community live-community RO" in lines
    assert lines[3:6] == ["tacacs server T1", " address ipv4 192.0.2.1", " key 7 0822455D0A16"]
    # no live line to take these secrets from: left out (T2's key), with the user that is gone
    assert [n for n, _ in restored.unresolved] == [3, 10]
    assert "<masked>" not in restored.text


def test_unmask_reads_stable_tokens_and_keeps_the_current_secret():
    live = "snmp-server community now-public RO\nline vty 0 4\n password 7 0822455D0A16\n"
    # stored when the values were different: other tokens, same line shapes
    stored = IOS.text(live.replace("now-public", "old").replace("0822455D0A16", "1511021F07")).text
    assert "<secret:" in stored and "old" not in stored
    restored = unmask(IOS, stored, live)
    assert restored.text.splitlines() == live.splitlines() and restored.unresolved == []
