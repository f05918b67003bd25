"""How a profile table turns walked columns into rows: lookups, conversions, skips, bad values."""

from __future__ import annotations

from genosd.collectors.mib_profiles import MibProfile, ProfileSet, table_samples
from genosd.snmp.ber import Counter32, Gauge32, IpAddress

SENSOR = "1.3.6.1.4.1.99999.1.1"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"


def _profile(table: dict) -> tuple[MibProfile, ProfileSet]:
    profile = MibProfile.model_validate({"name": "t", "tables": [table]})
    oids = {c.oid: c.oid for t in profile.tables for c in (*t.tags, *t.fields, *t.extra)}
    return profile, ProfileSet((profile,), oids)


def test_rows_with_lookups_conversions_and_skips():
    profile, known = _profile(
        {
            "measurement": "acme_sensor",
            "tags": [
                {"name": "ifName", "oid": IF_NAME, "index_from": "port"},
                {"name": "peer", "oid": f"{SENSOR}.5", "conversion": "ip"},
                {"name": "mac", "oid": f"{SENSOR}.6", "conversion": "mac"},
            ],
            "fields": [
                {"name": "celsius", "oid": f"{SENSOR}.2", "decimals_from": "precision"},
                {"name": "state", "oid": f"{SENSOR}.3", "conversion": "enum", "enum": {1: "ok"}},
                {"name": "amperes", "oid": f"{SENSOR}.4", "scale": 0.1},
            ],
            "extra": [
                {"name": "port", "oid": f"{SENSOR}.1"},
                {"name": "precision", "oid": f"{SENSOR}.7"},
            ],
            "skip_if": {"state": ["absent"]},
        }
    )
    walked = {
        IF_NAME: {"5": b"Gi0/5", "9": b"Gi0/9"},
        f"{SENSOR}.1": {"1": 5, "2": b".1.3.6.1.2.1.2.2.1.1.9", "3": 5},  # a number, an OID value
        f"{SENSOR}.2": {"1": 415, "2": b"38.5", "3": 7},  # text numbers are numbers
        f"{SENSOR}.3": {"1": 1, "2": 2, "3": 1},
        f"{SENSOR}.4": {"1": Gauge32(16), "2": Gauge32(0), "3": Counter32(3)},
        f"{SENSOR}.5": {"1": IpAddress(b"\xc0\x00\x02\x01"), "2": IpAddress(b"\x0a\x00\x00\x01")},
        f"{SENSOR}.6": {"1": bytes.fromhex("001122aabbcc")},
        f"{SENSOR}.7": {"1": 1},
    }
    problems: list[str] = []
    rows = table_samples(profile.tables[0], known, walked, problems)
    by_index = {r.tags["index"]: r for r in rows}
    one = by_index["1"]
    assert one.tags == {
        "index": "1",
        "ifName": "Gi0/5",
        "peer": "192.0.2.1",
        "mac": "00:11:22:aa:bb:cc",
    }
    assert one.fields == {"celsius": 41.5, "state": "ok", "amperes": 1.6}
    assert by_index["2"].tags["ifName"] == "Gi0/9"  # found through the OID the column holds
    assert by_index["2"].fields == {"celsius": 38.5, "state": "2", "amperes": 0.0}
    assert problems == []


def test_a_value_of_the_wrong_kind_drops_the_row_and_says_why():
    profile, known = _profile(
        {
            "measurement": "acme_peer",
            "index_as": "ip",
            "index_tag": "peer",
            "tags": [{"name": "addr", "oid": f"{SENSOR}.5", "conversion": "ip"}],
            "fields": [{"name": "state", "oid": f"{SENSOR}.3"}],
        }
    )
    walked = {
        f"{SENSOR}.3": {"192.0.2.1": 6, "192.0.2.2": 1},
        f"{SENSOR}.5": {"192.0.2.1": b"not an address"},
    }
    problems: list[str] = []
    rows = table_samples(profile.tables[0], known, walked, problems)
    assert [(r.tags["peer"], r.fields["state"]) for r in rows] == [("192.0.2.2", 1)]
    assert problems == ["acme_peer.192.0.2.1: addr: not an IP address"]
