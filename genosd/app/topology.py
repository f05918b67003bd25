"""The network's graph from what the devices say: LLDP and CDP neighbours in the stored facts.

A neighbour is matched to an inventory device by its name (with or without its domain) or its
management address; a link seen from both ends is one link. Interface names are compared in
their long form (Gi0/1 is GigabitEthernet0/1). A link's state comes from both ends' interfaces in
the facts (`show interfaces`): up when both are up, down when either is down, unknown otherwise.
Neighbours that are not in the inventory are kept as `external` nodes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from genosd.app.core import AppCore
from genosd.collectors.facts import stored_facts

# the abbreviations platforms use in LLDP/CDP output and interface lists, longest first
_SHORT = {
    "hu": "HundredGigE",
    "fo": "FortyGigabitEthernet",
    "twe": "TwentyFiveGigE",
    "te": "TenGigabitEthernet",
    "gi": "GigabitEthernet",
    "fa": "FastEthernet",
    "eth": "Ethernet",
    "et": "Ethernet",
    "po": "Port-channel",
    "lo": "Loopback",
    "vl": "Vlan",
    "mgmt": "mgmt",
}
_SPLIT = re.compile(r"^([A-Za-z-]+?)\s*(\d.*)$")


def long_name(interface: str) -> str:
    """`Gi0/1` → `GigabitEthernet0/1`; names that are not abbreviations stay as they are."""
    match = _SPLIT.match(interface.strip())
    if not match:
        return interface.strip()
    word, rest = match.groups()
    lowered = word.lower()
    for short, full in _SHORT.items():
        if (
            full.lower() == lowered
            or lowered == short
            or (
                len(lowered) >= 2 and full.lower().startswith(lowered) and lowered.startswith(short)
            )
        ):
            return f"{full}{rest}"
    return f"{word}{rest}"


@dataclass(frozen=True)
class Node:
    """A device of the graph."""

    name: str
    platform: str | None
    site: str | None
    status: str
    external: bool = False


@dataclass(frozen=True)
class Link:
    """A cable between two interfaces, and whether both ends are up."""

    a: str
    a_interface: str
    b: str
    b_interface: str
    state: str  # up | down | unknown
    seen_from: tuple[str, ...]


def neighbor_rows(facts: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str, str]]:
    """(local interface, neighbour name, neighbour interface, management address) rows."""
    found = []
    for row in [*facts.get("lldp", []), *facts.get("cdp", [])]:
        local = str(row.get("local_interface") or "").strip()
        name = str(row.get("neighbor_name") or "").strip()
        remote = str(row.get("neighbor_interface") or row.get("neighbor_port_id") or "").strip()
        address = str(row.get("mgmt_address") or "").strip()
        if local and (name or address):
            found.append((local, name, remote, address))
    return found


def _link_states(facts: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    states = {}
    for row in facts.get("interfaces", []):
        name = str(row.get("interface") or "")
        status = str(row.get("link_status") or "").lower()
        if name:
            states[long_name(name)] = (
                "up" if status.startswith("up") else "down" if "down" in status else "unknown"
            )
    return states


async def topology(core: AppCore) -> dict[str, Any]:
    """Nodes and links of the inventory's devices, from their newest stored facts."""
    devices = core.inventory.devices
    by_name: dict[str, str] = {}
    for device in devices.values():
        for alias in (device.name, device.name.split(".")[0], device.hostname):
            by_name.setdefault(alias.lower(), device.name)
    stored = await core.db.run(lambda db: {n: stored_facts(db, n) for n in devices})
    states = {n: _link_states(f.facts) for n, f in stored.items() if f is not None}
    links: dict[tuple[tuple[str, str], tuple[str, str]], Link] = {}
    external: set[str] = set()
    for name, found in stored.items():
        if found is None:
            continue
        for local, neighbor, remote, address in neighbor_rows(found.facts):
            other = (
                by_name.get(neighbor.lower())
                or by_name.get(neighbor.split(".")[0].lower())
                or by_name.get(address.lower())
            )
            if other is None:
                other = neighbor or address
                external.add(other)
            ends = sorted([(name, long_name(local)), (other, long_name(remote))])
            key = (ends[0], ends[1])
            ends_state = [states.get(d, {}).get(i) for d, i in ends]
            state = (
                "down"
                if "down" in ends_state
                else "up"
                if ends_state
                and all(s == "up" for s in ends_state if s is not None)
                and any(s == "up" for s in ends_state)
                else "unknown"
            )
            seen = tuple(sorted({*links[key].seen_from, name})) if key in links else (name,)
            links[key] = Link(ends[0][0], ends[0][1], ends[1][0], ends[1][1], state, seen)
    nodes = [
        Node(d.name, d.platform, d.site, core.status.state(d).status) for d in devices.values()
    ] + [Node(name, None, None, "unknown", external=True) for name in sorted(external)]
    return {
        "nodes": [asdict(n) for n in nodes],
        "links": [asdict(x) for x in sorted(links.values(), key=lambda x: (x.a, x.a_interface))],
        "devices_without_facts": sorted(n for n, f in stored.items() if f is None),
    }
