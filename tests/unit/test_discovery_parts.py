"""Discovery's parts on their own: platform detection from real recordings' answers, the crawl's
bounds (scope, rate, depth, time, address count) over a simulated network, and hosts.yaml edits."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest
import yaml

from genosd.discovery.crawl import Scope, crawl, first_leads
from genosd.discovery.detect import detect
from genosd.discovery.inventory_file import edit
from genosd.discovery.probe import Neighbor, Sighting, _man_address
from genosd.discovery.proposals import Proposal
from genosd.errors import ConflictError
from genosd.lab.snmp import recording_path
from genosd.settings_discovery import DiscoverySettings


def _system_group(recording: str) -> tuple[str | None, str | None]:
    """sysObjectID and sysDescr of an snmpsim-data recording."""
    import bz2

    path = recording_path(recording)
    raw = bz2.decompress(path.read_bytes()) if path.suffix == ".bz2" else path.read_bytes()
    found: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        oid, _, rest = line.partition("|")
        tag, _, value = rest.partition("|")
        if oid in ("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0"):
            found[oid] = bytes.fromhex(value).decode("utf-8", "replace") if tag == "4x" else value
    return found.get("1.3.6.1.2.1.1.2.0"), found.get("1.3.6.1.2.1.1.1.0")


@pytest.mark.parametrize(
    ("recording", "os", "platform"),
    [
        ("network/switch/cisco-c3560", "ios", "ios"),
        ("network/router/juniper-mx960-13-3r9-13", "junos", "junos"),
        ("cloud/arista-dcs-7150s-52-cl", "eos", "eos"),
        ("network/switch/cisco-n5000", "nxos", "nxos"),
        ("os/linux/unknown-001", "linux", None),
        ("network/wifi/ubiquiti-m5", "airos", None),
    ],
)
def test_platforms_of_real_devices(recording: str, os: str, platform: str | None):
    assert detect(*_system_group(recording), None) == (os, platform)


def test_banners_and_descriptions_without_an_object_id():
    assert detect(None, None, "SSH-2.0-Cisco-1.25") == ("ios", "ios")
    assert detect(None, None, "SSH-2.0-ROSSSH") == ("routeros", None)
    assert detect(None, "Cisco NX-OS(tm) n9000, Software", None) == ("nxos", "nxos")
    assert detect(None, "Cisco IOS XR Software, Version 7.3.2", None) == ("iosxr", None)
    assert detect(None, None, "SSH-2.0-dropbear_2022.83") == (None, None)


def test_lldp_management_addresses_from_the_table_index():
    assert _man_address("0.3.1.1.4.10.0.0.7") == ("0.3.1", "10.0.0.7")
    v6 = "0.3.1.2.16." + ".".join(["32", "1", "13", "184"] + ["0"] * 11 + ["1"])
    assert _man_address(v6) == ("0.3.1", "2001:db8::1")
    assert _man_address("0.3.1.6.3.1.2.3") == ("0.3.1", None)  # not an IP: kept without one


class Network:
    """A simulated network: address -> (name, neighbour addresses); records every probe."""

    def __init__(self, links: dict[str, tuple[str, list[str]]], delay: float = 0.0):
        self.links = links
        self.delay = delay
        self.probed: list[tuple[str, float]] = []

    async def probe(self, address: str) -> Sighting:
        self.probed.append((address, time.monotonic()))
        await asyncio.sleep(self.delay)
        if address not in self.links:
            return Sighting(address)
        name, peers = self.links[address]
        sighting = Sighting(address, sys_name=name, credential="ro")
        sighting.neighbors = [
            Neighbor(f"Gi0/{n}", self.links.get(p, (p, []))[0], "Gi0/0", p, "", "lldp")
            for n, p in enumerate(peers)
        ]
        return sighting


def _settings(**given: object) -> DiscoverySettings:
    return DiscoverySettings.model_validate(
        {"seeds": ["10.0.0.1"], "ranges": ["10.0.0.0/24"], "credentials": [], **given}
    )


CHAIN = {
    "10.0.0.1": ("a", ["10.0.0.2", "192.0.2.9"]),
    "10.0.0.2": ("b", ["10.0.0.1", "10.0.0.3"]),
    "10.0.0.3": ("c", ["10.0.0.4"]),
    "10.0.0.4": ("d", ["10.0.0.5"]),
    "10.0.0.5": ("e", []),
    "192.0.2.9": ("outside", []),
}


async def test_the_crawl_follows_neighbours_to_the_depth_and_never_leaves_the_ranges():
    network = Network(CHAIN)
    settings = _settings(depth=2)
    result = await crawl(settings, network.probe, first_leads(settings, []))
    assert sorted(a for a, _ in network.probed) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert [(o.name, o.address, o.seen_from) for o in result.outside] == [
        ("outside", "192.0.2.9", "a")
    ]
    assert result.stopped is None
    deeper = Network(CHAIN)
    await crawl(_settings(depth=10), deeper.probe, first_leads(_settings(depth=10), []))
    assert len(deeper.probed) == 5 and "192.0.2.9" not in dict(deeper.probed)


async def test_the_crawl_keeps_its_rate_its_time_limit_and_its_address_limit():
    sweep = _settings(seeds=[], ranges=["10.0.1.0/29"], sweep=True, rate=10, concurrency=8)
    network = Network({})
    started = time.monotonic()
    result = await crawl(sweep, network.probe, first_leads(sweep, []))
    starts = [t for _, t in network.probed]
    assert len(starts) == 6 and len(result.silent) == 6  # the six hosts of a /29
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.09  # 10 new addresses per second
    assert time.monotonic() - started >= 0.5

    slow = Network(CHAIN, delay=5)
    limited = _settings(time_limit=0.5)
    result = await crawl(limited, slow.probe, first_leads(limited, []))
    assert result.stopped == "time limit (0.5 s) reached" and result.sightings == []

    few = _settings(max_addresses=2, depth=10)
    network = Network(CHAIN)
    result = await crawl(few, network.probe, first_leads(few, []))
    assert len(network.probed) == 2 and result.stopped == "address limit (2) reached"


def test_settings_refuse_unbounded_or_malformed_scopes():
    with pytest.raises(ValueError, match="exceeds max_addresses"):
        _settings(ranges=["10.0.0.0/8"], sweep=True)
    with pytest.raises(ValueError, match="not an address or network"):
        _settings(ranges=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="a seed is an IP address"):
        _settings(seeds=["core-1.example.net"])
    assert Scope(_settings()).allows("10.0.0.200") and not Scope(_settings()).allows("10.0.1.1")
    assert Scope(_settings(seeds=["192.0.2.1"])).allows("192.0.2.1")


def _add(name: str, address: str) -> Proposal:
    return Proposal(1, "add", name, "answered", address=address, platform="ios", credential="ro")


def test_edits_keep_the_file_and_refuse_what_no_longer_fits(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    added = edit("", path, [_add("sw9", "10.0.0.9")], 3, "carol", 0)
    assert yaml.safe_load(added)["sw9"] == {
        "hostname": "10.0.0.9",
        "platform": "ios",
        "data": {"snmp": {"credential": "ro"}},
    }
    assert added.startswith("# genosd discover run 3 proposal 1, accepted by carol 1970-01-01")
    assert yaml.safe_load(
        edit("{}\n", path, [_add("sw9", "10.0.0.9")], 3, "c", 0)
    ) == yaml.safe_load(added)
    flow = "{r1: {hostname: 10.0.0.1}}\n"
    with pytest.raises(ConflictError, match="flow mapping"):
        edit(flow, path, [_add("sw9", "10.0.0.9")], 3, "c", 0)
    moved = Proposal(2, "address", "r1", "moved", address="10.0.0.5", old_address="10.0.0.1")
    assert edit(flow, path, [moved], 3, "c", 0) == "{r1: {hostname: 10.0.0.5}}\n"
    with pytest.raises(ConflictError, match=r"no longer 10\.0\.0\.1"):
        edit("r1: {hostname: 10.0.0.2}\n", path, [moved], 3, "c", 0)
    with pytest.raises(ConflictError, match="already in"):
        edit(flow, path, [_add("r1", "10.0.0.9")], 3, "c", 0)
    quoted = "r1:\n  hostname: '10.0.0.1'  # mgmt\n"
    assert edit(quoted, path, [moved], 3, "c", 0) == "r1:\n  hostname: 10.0.0.5  # mgmt\n"
