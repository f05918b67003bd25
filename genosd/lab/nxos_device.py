"""A simulated Cisco Nexus (NX-OS) switch: the IOS-like CLI with NX-OS's outputs and config layout.

The text layouts follow real NX-OS 9.x/10.x captures (ntc-templates' cisco_nxos fixtures), so the
TextFSM templates, netmiko's and scrapli's `cisco_nxos` drivers and NAPALM's `nxos_ssh` getters
read them as they read a Nexus. The running config is NX-OS's: two-space indentation, a blank line
between sections, no `!`/`end`, `no shutdown`/`no switchport` kept as lines, and an SNMP `ro`
community stored as `group network-operator`, as a Nexus does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genosd.lab.ios_config import SECTION_WORDS, Block
from genosd.lab.ios_device import IosDevice, Neighbor

NXOS_VERSION = "10.3(3)"
MODEL = "C9300v"
DESCRIPTION = f"Cisco Nexus Operating System (NX-OS) Software {NXOS_VERSION}"
SHORT_NAMES = {
    "Ethernet": "Eth",
    "loopback": "Lo",
    "port-channel": "Po",
    "Vlan": "Vlan",
    "mgmt": "mgmt",
}
# the kept negations of interface defaults, and what each replaces
KEPT_NEGATIONS = {"no shutdown": "shutdown", "no switchport": "switchport"}
SNMP_GROUPS = {"ro": "network-operator", "rw": "network-admin"}
FEATURES = frozenset(
    {
        "bash-shell",
        "bfd",
        "bgp",
        "dhcp",
        "hsrp",
        "interface-vlan",
        "lacp",
        "lldp",
        "netconf",
        "nv overlay",
        "nxapi",
        "ospf",
        "pim",
        "scp-server",
        "ssh",
        "tacacs+",
        "telnet",
        "udld",
        "vn-segment-vlan-based",
        "vpc",
        "vrrp",
    }
)


@dataclass
class NxosDevice(IosDevice):
    """A Nexus switch."""

    platform = "nxos"
    invalid = "                   ^\n% Invalid command at '^' marker.\n"
    saved = "[########################################] 100%\nCopy complete.\n"
    short_names = SHORT_NAMES
    shows_in_config = True

    def _uptime(self) -> str:
        up = int(time.time() - self.booted_at)
        return (
            f"{up // 86400} day(s), {up % 86400 // 3600} hour(s), "
            f"{up % 3600 // 60} minute(s), {up % 60} second(s)"
        )

    def show_version(self) -> str:
        """`show version`."""
        return (
            "Cisco Nexus Operating System (NX-OS) Software\n"
            "TAC support: http://www.cisco.com/tac\n"
            "Copyright (C) 2002-2023, Cisco and/or its affiliates.\nAll rights reserved.\n\n"
            "Software\n"
            f"  NXOS: version {NXOS_VERSION} [Maintenance Release]\n"
            f"  NXOS image file is: bootflash:///nxos64-cs.{NXOS_VERSION.replace('(', '.')[:-1]}.M.bin\n"
            "  NXOS compile time:  6/29/2023 12:00:00 [06/29/2023 21:11:23]\n\n"
            "Hardware\n"
            f"  cisco Nexus9000 {MODEL} Chassis \n"
            "  Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz with 16409064 kB of memory.\n"
            f"  Processor Board ID {self.serial}\n"
            f"  Device name: {self.hostname}\n"
            "  bootflash:    4287040 kB\n\n"
            f"Kernel uptime is {self._uptime()}\n\n"
            "Last reset\n  Reason: Unknown\n  System version: \n  Service: \n\n"
            "plugin\n  Core Plugin, Ethernet Plugin\n\nActive Package(s):\n\n"
        )

    @staticmethod
    def _state(children: list[str]) -> str:
        """`down` for an administratively down interface, else `up`."""
        return "down" if "shutdown" in children else "up"

    def show_interface(self) -> str:
        """`show interface`."""
        out = []
        for name, children in self.interfaces():
            state = self._state(children)
            shut = state == "down"
            address = self._address(children)
            description = next((c[12:] for c in children if c.startswith("description ")), None)
            first = f"{name} is down (Administratively down)" if shut else f"{name} is up"
            if name.startswith("loopback"):
                block = [first, f"admin state is {state},", "  Hardware: Loopback"]
                if description:
                    block.append(f"  Description: {description}")
                if address:
                    block.append(f"  Internet Address is {address.with_prefixlen}")
                block += [
                    "  MTU 1500 bytes, BW 8000000 Kbit, DLY 5000 usec",
                    "  reliability 255/255, txload 1/255, rxload 1/255",
                    "  Encapsulation LOOPBACK, medium is broadcast",
                    "  Auto-mdix is turned off",
                    "    120 packets input 9600 bytes",
                    "    0 multicast frames 0 compressed",
                    "    0 input errors 0 frame 0 overrun 0 fifo",
                    "    120 packets output 9600 bytes 0 underruns",
                    "    0 output errors 0 collisions 0 fifo",
                    "    0 out_carrier_errors",
                ]
                out.append("\n".join(block))
                continue
            mac = self.mac(name)
            block = [
                first,
                f"admin state is {state}, Dedicated Interface",
                f"  Hardware: 100/1000/10000 Ethernet, address: {mac} (bia {mac})",
            ]
            if description:
                block.append(f"  Description: {description}")
            if address:
                block.append(f"  Internet Address is {address.with_prefixlen}")
            routed = "no switchport" in children
            block += [
                "  MTU 1500 bytes, BW 1000000 Kbit, DLY 10 usec",
                "  reliability 255/255, txload 1/255, rxload 1/255",
                "  Encapsulation ARPA, medium is broadcast",
                f"  Port mode is {'routed' if routed else 'access'}",
                "  auto-duplex, auto-speed" if shut else "  full-duplex, 1000 Mb/s",
                "  Beacon is turned off",
                "  Auto-Negotiation is turned on",
                "  Input flow-control is off, output flow-control is off",
                "  Auto-mdix is turned off",
                "  Rate mode is dedicated",
                "  Switchport monitor is off",
                "  EtherType is 0x8100",
                "  EEE (efficient-ethernet) : n/a",
                "  Last link flapped 1d02h",
                '  Last clearing of "show interface" counters never',
                "  1 interface resets",
                "  30 seconds input rate 1000 bits/sec, 1 packets/sec",
                "  30 seconds output rate 1000 bits/sec, 1 packets/sec",
                "  Load-Interval #2: 5 minute (300 seconds)",
                "    input rate 1000 bps, 1 pps; output rate 1000 bps, 1 pps",
                "  RX",
                "    12000 unicast packets  345 multicast packets  0 broadcast packets",
                "    12345 input packets  1234567 bytes",
                "    0 jumbo packets  0 storm suppression packets",
                "    0 runts  0 giants  0 CRC  0 no buffer",
                "    0 input error  0 short frame  0 overrun   0 underrun  0 ignored",
                "    0 watchdog  0 bad etype drop  0 bad proto drop  0 if down drop",
                "    0 input with dribble  0 input discard",
                "    0 Rx pause",
                "  TX",
                "    12000 unicast packets  345 multicast packets  0 broadcast packets",
                "    12345 output packets  1234567 bytes",
                "    0 jumbo packets",
                "    0 output error  0 collision  0 deferred  0 late collision",
                "    0 lost carrier  0 no carrier  0 babble  0 output discard",
                "    0 Tx pause",
            ]
            out.append("\n".join(block))
        return "\n\n".join(out) + "\n"

    def show_interface_status(self) -> str:
        """`show interface status` (NAPALM's get_facts lists interfaces from it)."""
        rule = "-" * 80
        lines = [
            rule,
            "Port          Name               Status    Vlan      Duplex  Speed   Type",
            rule,
        ]
        for name, children in self.interfaces():
            description = next((c[12:] for c in children if c.startswith("description ")), "--")
            status = "disabled" if self._state(children) == "down" else "connected"
            vlan = "routed" if "no switchport" in children or name.startswith("loopback") else "1"
            lines.append(
                f"{self._short(name):<14}{description[:18]:<19}{status:<10}{vlan:<10}"
                f"{'full':<8}{'1000':<8}10Gbase-SR"
            )
        return "\n".join(lines) + "\n"

    def show_ip_interface_brief(self) -> str:
        """`show ip interface brief`."""
        lines = [
            'IP Interface Status for VRF "default"(1)',
            "Interface            IP Address      Interface Status",
        ]
        for name, children in self.interfaces():
            address = self._address(children)
            if address is None:
                continue
            state = self._state(children)
            lines.append(
                f"{self._short(name):<21}{address.ip!s:<16}"
                f"protocol-{state}/link-{state}/admin-{state}       "
            )
        return "\n".join(lines) + "\n"

    def show_hosts(self) -> str:
        """`show hosts` (NAPALM reads the domain here)."""
        domain = self.config.value("ip domain-name ") or self.domain
        return (
            f"DNS lookup enabled\nDefault domain for vrf:default is {domain}\n"
            "Name/address lookup uses domain service\nName servers are 255.255.255.255\n\n"
            "Vrf          Use-vrf      Host                     Address\n"
        )

    def show_inventory(self) -> str:
        """`show inventory`."""
        return (
            f'NAME: "Chassis",  DESCR: "Nexus9000 {MODEL} Chassis"\n'
            f"PID: N9K-{MODEL}         ,  VID:     ,  SN: {self.serial}\n\n"
        )

    def _neighbors_detail(self, neighbor: Neighbor) -> str:
        return (
            f"Chassis id: {neighbor.mac}\n"
            f"Port id: {neighbor.interface}\n"
            f"Local Port id: {self._short(neighbor.local_interface)}\n"
            f"Port Description: {neighbor.interface}\n"
            f"System Name: {neighbor.name}.{self.domain}\n"
            f"System Description: {neighbor.description or neighbor.name}\n"
            "Time remaining: 97 seconds\n"
            "System Capabilities: B, R\n"
            "Enabled Capabilities: R\n"
            f"Management Address: {neighbor.address}\n"
            "Management Address IPV6: not advertised\n"
            "Vlan ID: not advertised\n\n"
        )

    def show_lldp_neighbors_detail(self) -> str:
        """`show lldp neighbors detail`."""
        neighbors = self._up_neighbors()
        return (
            "Capability codes:\n  (R) Router, (B) Bridge, (T) Telephone, (C) DOCSIS Cable Device\n"
            "  (W) WLAN Access Point, (P) Repeater, (S) Station, (O) Other\n"
            "Device ID            Local Intf      Hold-time  Capability  Port ID  \n\n"
            + "".join(self._neighbors_detail(n) for n in neighbors)
            + f"\nTotal entries displayed: {len(neighbors)}\n"
        )

    def show_cdp_neighbors_detail(self) -> str:
        """`show cdp neighbors detail` (only the Cisco neighbours speak CDP)."""
        out = []
        for n in self._up_neighbors():
            if not n.description.startswith("Cisco"):
                continue
            out.append(
                "----------------------------------------\n"
                f"Device ID:{n.name}.{self.domain}\nSystem Name: {n.name}\n\n"
                f"Interface address(es):\n    IPv4 Address: {n.address}\n"
                "Platform: cisco, Capabilities: Router Switch IGMP Filtering\n"
                f"Interface: {n.local_interface}, Port ID (outgoing port): {n.interface}\n"
                f"Holdtime: 150 sec\n\nVersion:\n{n.description}\n\n"
                "Advertisement Version: 2\n\n"
                f"Mgmt address(es):\n    IPv4 Address: {n.address}\n"
            )
        return "".join(out)

    def show_running_config(self) -> str:
        """`show running-config`: NX-OS's header, then blocks with a blank line before sections."""
        changed = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(self.last_change))
        now = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
        out = [
            "",
            "!Command: show running-config",
            f"!Running configuration last done at: {changed}",
            f"!Time: {now}",
            "",
            f"version {NXOS_VERSION} Bios:version  ",
        ]
        for block in self.config.blocks:
            if block.children or block.line.startswith(SECTION_WORDS):
                out.append("")
            out.append(block.line)
            out.extend(f"  {child}" for child in block.children)
        return "\n".join(out) + "\n\n"

    def shows(self) -> dict[tuple[str, ...], Callable[[], str]]:
        """NX-OS's show commands (`show interface`, singular, is its own)."""
        return {
            ("show", "version"): self.show_version,
            ("show", "hostname"): lambda: f"{self.hostname}\n",
            ("show", "hosts"): self.show_hosts,
            ("show", "inventory"): self.show_inventory,
            ("show", "ip", "interface", "brief"): self.show_ip_interface_brief,
            ("show", "interface", "status"): self.show_interface_status,
            ("show", "interface"): self.show_interface,
            ("show", "lldp", "neighbors", "detail"): self.show_lldp_neighbors_detail,
            ("show", "cdp", "neighbors", "detail"): self.show_cdp_neighbors_detail,
            ("show", "running-config"): self.show_running_config,
            ("show", "startup-config"): lambda: self.startup or "No startup-config\n",
        }

    def exec_command(self, command: str) -> str | None:
        """As IOS (but no `write memory`), plus `| json` for `show inventory`."""
        base, pipe, fmt = command.partition("|")
        if pipe and fmt.strip() == "json":
            model = self.json_models().get(" ".join(base.split()))
            return None if model is None else json.dumps(model()) + "\n"
        if command.split()[:1] in (["write"], ["wr"]):
            return None
        return super().exec_command(command)

    def json_models(self) -> dict[str, Callable[[], dict[str, Any]]]:
        """NX-API-style answers, by command."""
        return {
            "show inventory": lambda: {
                "TABLE_inv": {
                    "ROW_inv": [
                        {
                            "name": "Chassis",
                            "desc": f"Nexus9000 {MODEL} Chassis",
                            "productid": f"N9K-{MODEL}",
                            "vendorid": "",
                            "serialnum": self.serial,
                        }
                    ]
                }
            },
        }

    def config_command(self, section: str | None, command: str) -> tuple[str | None, str]:
        """As IOS, but `no shutdown`/`no switchport` stay as lines, `ro` becomes a group, and
        `feature` takes only the names NX-OS has."""
        words = command.split()
        feature = command.removeprefix("no ").removeprefix("feature ")
        if feature != command.removeprefix("no ") and feature not in FEATURES:
            return section, self.invalid  # an unknown feature name, refused like the real CLI
        if words[:2] == ["snmp-server", "community"] and len(words) == 4:
            group = SNMP_GROUPS.get(words[3].lower())
            if group:
                command = f"snmp-server community {words[2]} group {group}"
        if section is not None and section.startswith("interface "):
            for kept, default in KEPT_NEGATIONS.items():
                if command in (kept, default):
                    self.last_change = time.time()
                    block = self.config.enter(section)
                    _replace(block, drop=(kept, default), add=command)
                    return section, ""
        return super().config_command(section, command)


def _replace(block: Block, drop: tuple[str, ...], add: str) -> None:
    """Replace every `drop` line of the block by `add`, kept where the first one was."""
    at = next((i for i, c in enumerate(block.children) if c in drop), len(block.children))
    block.children = [c for c in block.children if c not in drop]
    block.children.insert(min(at, len(block.children)), add)
