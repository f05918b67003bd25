"""The SSH lab's devices and links: one of each platform, cabled so that LLDP shows a small mesh.

    lab-r1 (ios)  Gi0/1 ──── Et1       lab-sw1 (eos)
    lab-r1        Gi0/2 ──── ge-0/0/1  lab-rj1 (junos)
    lab-sw1       Et2   ──── ge-0/0/0  lab-rj1
    lab-sw1       Et3   ──── Eth1/1    lab-nx1 (nxos)
    lab-r1        Gi0/3 ──── Eth1/2    lab-nx1

Each link is a /30 out of 10.0.0.0/24 and each device has a /32 loopback in 10.255.0.0/24; every
device's LLDP (and CDP on IOS) lists the far end of each of its links, so the facts of the lab form
this graph.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from genosd.lab.eos_device import DESCRIPTION as EOS_DESCRIPTION
from genosd.lab.eos_device import EosDevice
from genosd.lab.ios_config import RunningConfig
from genosd.lab.ios_device import SOFTWARE as IOS_DESCRIPTION
from genosd.lab.ios_device import IosDevice, Neighbor
from genosd.lab.junos_device import JUNOS_VERSION, JunosDevice, parse_set
from genosd.lab.nxos_device import DESCRIPTION as NXOS_DESCRIPTION
from genosd.lab.nxos_device import NxosDevice

Device = IosDevice | JunosDevice


@dataclass(frozen=True)
class LabNode:
    """One simulated SSH device: its name, platform and loopback number."""

    name: str
    platform: str
    number: int


@dataclass(frozen=True)
class Link:
    """A cable between two device interfaces."""

    a: str
    a_interface: str
    b: str
    b_interface: str


NODES = (
    LabNode("lab-r1", "ios", 1),
    LabNode("lab-sw1", "eos", 2),
    LabNode("lab-rj1", "junos", 3),
    LabNode("lab-nx1", "nxos", 4),
)
LINKS = (
    Link("lab-r1", "GigabitEthernet0/1", "lab-sw1", "Ethernet1"),
    Link("lab-r1", "GigabitEthernet0/2", "lab-rj1", "ge-0/0/1"),
    Link("lab-sw1", "Ethernet2", "lab-rj1", "ge-0/0/0"),
    Link("lab-sw1", "Ethernet3", "lab-nx1", "Ethernet1/1"),
    Link("lab-r1", "GigabitEthernet0/3", "lab-nx1", "Ethernet1/2"),
)
USERNAME = "genosd"
ENABLE_SECRET_HASH = "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM"
DESCRIPTIONS = {
    "ios": IOS_DESCRIPTION,
    "eos": EOS_DESCRIPTION,
    "nxos": NXOS_DESCRIPTION,
    "junos": f"Juniper Networks, Inc. vmx internet router, kernel JUNOS {JUNOS_VERSION}",
}


def loopback(node: LabNode) -> str:
    """The node's loopback address."""
    return f"10.255.0.{node.number}"


def link_addresses(index: int) -> tuple[ipaddress.IPv4Interface, ipaddress.IPv4Interface]:
    """The two ends of link `index` (a /30 each)."""
    net = ipaddress.IPv4Network(f"10.0.0.{index * 4}/30")
    first, second = list(net.hosts())
    return (ipaddress.IPv4Interface(f"{first}/30"), ipaddress.IPv4Interface(f"{second}/30"))


def interfaces(node: LabNode) -> dict[str, tuple[str, ipaddress.IPv4Interface]]:
    """Interface → (description, address) of every cabled interface of `node`."""
    found = {}
    for index, link in enumerate(LINKS):
        a, b = link_addresses(index)
        if link.a == node.name:
            found[link.a_interface] = (f"to {link.b} {link.b_interface}", a)
        if link.b == node.name:
            found[link.b_interface] = (f"to {link.a} {link.a_interface}", b)
    return found


def _ios_like(node: LabNode, community: str | None, indent: str) -> str:
    secret = f"9 {ENABLE_SECRET_HASH}" if node.platform == "ios" else "sha512 $6$lab"
    lines = [
        f"hostname {node.name}",
        "ip domain name lab.genosd.invalid"
        if node.platform == "ios"
        else "ip domain-name lab.genosd.invalid",
        f"username {USERNAME} privilege 15 secret {secret}",
    ]
    if community:
        lines.append(f"snmp-server community {community} RO")
    lo = "Loopback0"
    lines += [
        f"interface {lo}",
        f"{indent}ip address {loopback(node)}"
        + (" 255.255.255.255" if node.platform == "ios" else "/32"),
    ]
    for name, (description, address) in interfaces(node).items():
        lines += [f"interface {name}", f"{indent}description {description}"]
        if node.platform == "eos":
            lines += [f"{indent}no switchport", f"{indent}ip address {address.with_prefixlen}"]
        else:
            lines.append(f"{indent}ip address {address.ip} {address.netmask}")
    if node.platform == "ios":
        lines += ["line vty 0 4", f"{indent}transport input ssh"]
    return "\n".join(lines) + "\n"


def _nxos(node: LabNode, community: str | None) -> str:
    lines = [
        f"hostname {node.name}",
        "ip domain-name lab.genosd.invalid",
        "feature lldp",
        f"username {USERNAME} password 5 $5$lab role network-admin",
    ]
    if community:
        lines.append(f"snmp-server community {community} group network-operator")
    lines += ["interface loopback0", f"  ip address {loopback(node)}/32"]
    for name, (description, address) in interfaces(node).items():
        lines += [
            f"interface {name}",
            f"  description {description}",
            "  no switchport",
            f"  ip address {address.with_prefixlen}",
            "  no shutdown",
        ]
    return "\n".join(lines) + "\n"


def _junos(node: LabNode, community: str | None) -> str:
    lines = [
        f"set system host-name {node.name}",
        "set system domain-name lab.genosd.invalid",
        f"set system login user {USERNAME} class super-user",
        f'set system login user {USERNAME} authentication encrypted-password "$6$lab"',
        f"set interfaces lo0 unit 0 family inet address {loopback(node)}/32",
    ]
    if community:
        lines.append(f"set snmp community {community} authorization read-only")
    for name, (description, address) in interfaces(node).items():
        lines += [
            f'set interfaces {name} description "{description}"',
            f"set interfaces {name} unit 0 family inet address {address.with_prefixlen}",
        ]
    return "\n".join(lines) + "\n"


def build_device(node: LabNode, community: str | None = None) -> Device:
    """A device in its lab starting state, its LLDP neighbours wired."""
    device: Device
    if node.platform == "junos":
        device = JunosDevice(node.name, active=parse_set(_junos(node, community)))
    elif node.platform == "nxos":
        device = NxosDevice(node.name, config=RunningConfig.parse(_nxos(node, community)))
    elif node.platform == "eos":
        device = EosDevice(node.name, config=RunningConfig.parse(_ios_like(node, community, "   ")))
    else:
        device = IosDevice(node.name, config=RunningConfig.parse(_ios_like(node, community, " ")))
    by_name = {n.name: n for n in NODES}
    for link in LINKS:
        for here, here_if, there, there_if in (
            (link.a, link.a_interface, link.b, link.b_interface),
            (link.b, link.b_interface, link.a, link.a_interface),
        ):
            if here == node.name:
                far = by_name[there]
                device.neighbors.append(
                    Neighbor(
                        here_if,
                        there,
                        there_if,
                        loopback(far),
                        _chassis(far),
                        DESCRIPTIONS[far.platform],
                    )
                )
    return device


def _chassis(node: LabNode) -> str:
    """The far end's chassis MAC as LLDP shows it."""
    return f"5254.00ff.{node.number:04x}"


def inventory_hosts(ports: dict[str, int], credential: str) -> dict[str, dict[str, object]]:
    """Inventory entries for the SSH lab: SSH port, role, and the data the shipped templates use.

    The data describes the lab as cabled (so a first render keeps every address) plus the
    standards the templates add (NTP, SNMP contact, AAA), so a first plan has work to do.
    """
    hosts: dict[str, dict[str, object]] = {}
    for node in NODES:
        lo = {"junos": "lo0", "nxos": "loopback0"}.get(node.platform, "Loopback0")
        wanted: dict[str, dict[str, str]] = {lo: {"address": f"{loopback(node)}/32"}}
        for name, (description, address) in interfaces(node).items():
            wanted[name] = {"description": description, "address": address.with_prefixlen}
        data: dict[str, object] = {
            "ssh": {"credential": credential, "port": ports[node.name]},
            "role": "switch" if node.platform in ("eos", "nxos") else "router",
            "site": "lab",
            "interfaces": wanted,
        }
        hosts[node.name] = {"hostname": "127.0.0.1", "platform": node.platform, "data": data}
    return hosts


LAB_DATA = {  # inventory defaults the shipped templates need
    "domain": "lab.genosd.invalid",
    "ntp_servers": ["10.255.255.1", "10.255.255.2"],
    "snmp_contact": "noc@lab.genosd.invalid",
}
