"""A simulated Arista EOS switch: the IOS-like CLI with EOS's own outputs, indentation and `| json`.

The text layouts follow real EOS 4.x captures (ntc-templates' arista_eos fixtures); `| json` gives
the eAPI models NAPALM's EOS driver reads over SSH (`optional_args={"transport": "ssh"}`).

Configuration sessions work as on EOS: `configure session NAME` edits a copy of the running config,
`commit` applies it, `commit timer hh:mm:ss` applies it until `configure session NAME commit`
confirms it (or reverts it when the timer runs out; `minute` seconds per minute, shortened by the
tests), and `abort` discards a session or rolls a pending one back.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genosd.lab.ios_config import RunningConfig
from genosd.lab.ios_device import IosDevice

EOS_VERSION = "4.31.6M"
EOS_MODEL = "vEOS-lab"
DESCRIPTION = f"Arista Networks EOS version {EOS_VERSION} running on an Arista Networks {EOS_MODEL}"
SHORT_NAMES = {
    "Ethernet": "Et",
    "Loopback": "Lo",
    "Management": "Ma",
    "Vlan": "Vl",
    "Port-Channel": "Po",
}
TIMER = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")


@dataclass
class Pending:
    """A session committed with a timer: the config it replaced and when it reverts."""

    before: RunningConfig
    deadline: float


@dataclass
class EosDevice(IosDevice):
    """An EOS switch; its config indents children by three spaces."""

    platform = "eos"
    invalid = "% Invalid input\n"
    saved = "Copy completed successfully.\n"
    short_names = SHORT_NAMES
    shows_in_config = True
    minute: float = 60.0
    sessions: dict[str, RunningConfig] = field(default_factory=dict)  # open, not committed
    pending: dict[str, Pending] = field(default_factory=dict)  # committed with a timer
    commits: list[str] = field(default_factory=list)  # "commit", "commit timer …", "confirm" …

    def tick(self) -> None:
        """Revert the sessions whose commit timer ran out."""
        now = time.time()
        for name, pending in list(self.pending.items()):
            if now >= pending.deadline:
                self.config = pending.before
                del self.pending[name]
                self.commits.append("revert")

    def open_session(self, name: str) -> None:
        """`configure session NAME`: a copy of the running config to edit (or the one open)."""
        self.sessions.setdefault(name, copy.deepcopy(self.config))

    def session_command(
        self, name: str, section: str | None, command: str
    ) -> tuple[str | None, str]:
        """A config command inside session `name`: it edits the session's copy only."""
        running, self.config = self.config, self.sessions[name]
        try:
            return self.config_command(section, command)
        finally:
            self.sessions[name], self.config = self.config, running

    def commit_session(self, name: str, timer: str | None = None) -> str:
        """`commit [timer hh:mm:ss]` in session `name`."""
        seconds = 0.0
        if timer is not None:
            match = TIMER.match(timer)
            if match is None:
                return self.invalid
            h, m, sec = (int(g) for g in match.groups())
            seconds = (h * 60 + m + sec / 60) * self.minute
        before, self.config = self.config, self.sessions.pop(name)
        self.last_change = time.time()
        if timer is None:
            self.commits.append("commit")
        else:
            self.pending[name] = Pending(before, time.time() + seconds)
            self.commits.append(f"commit timer {timer}")
        return ""

    def session_action(self, name: str, action: str) -> str:
        """`configure session NAME commit|abort` from exec mode."""
        if action == "commit" and name in self.pending:
            del self.pending[name]
            self.commits.append("confirm")
            return ""
        if action == "commit" and name in self.sessions:
            return self.commit_session(name)
        if action == "abort" and name in self.pending:
            self.config = self.pending.pop(name).before
            self.last_change = time.time()
            self.commits.append("abort")
            return ""
        if action == "abort" and name in self.sessions:
            del self.sessions[name]
            return ""
        if action in ("commit", "abort"):
            return f"% Session {name} not found\n"
        return self.invalid

    def submode(self, section: str) -> str:
        """EOS names the interface in the prompt: `(config-if-Et1)`."""
        if section.startswith("interface "):
            return f"config-if-{self._short(section.split()[1])}"
        return super().submode(section)

    def terminal(self, words: list[str]) -> str:
        """EOS confirms terminal settings (netmiko waits for these words)."""
        if words[1:2] and "width".startswith(words[1]):
            return f"Width set to {words[2] if len(words) > 2 else 511} columns.\n"
        if words[1:2] and "length".startswith(words[1]):
            return "Pagination disabled.\n"
        return ""

    def _uptime(self) -> str:
        up = int(time.time() - self.booted_at)
        return f"{up // 86400} days, {up % 86400 // 3600} hours and {up % 3600 // 60} minutes"

    def show_version(self) -> str:
        """`show version`."""
        mac = self.mac("system")
        return (
            f"Arista {EOS_MODEL}\nHardware version:\nSerial number: {self.serial}\n"
            f"Hardware MAC address: {mac}\nSystem MAC address: {mac}\n\n"
            f"Software image version: {EOS_VERSION}\nArchitecture: x86_64\n"
            f"Internal build version: {EOS_VERSION}-39953990.4316M\n"
            "Internal build ID: 27a18095-d8a6-4dcf-a74c-c9ad0f655faf\n"
            "Image format version: 1.0\nImage optimization: None\n\n"
            "Kernel version: 5.10.0\n\n"
            f"Uptime: {self._uptime()}\nTotal memory: 4002196 kB\nFree memory: 2631664 kB\n"
        )

    def show_ip_interface_brief(self) -> str:
        """`show ip interface brief`."""
        lines = [
            "                                                                        Address",
            "Interface       IP Address          Status     Protocol          MTU    Owner  ",
            "--------------- ------------------- ---------- ------------- ---------- -------",
        ]
        for name, children in self.interfaces():
            address = self._address(children)
            status = "adminDown" if "shutdown" in children else "up"
            ip = address.with_prefixlen if address else "unassigned"
            mtu = 65535 if name.startswith("Loopback") else 1500
            lines.append(f"{name:<16}{ip:<20}{status:<11}{status:<14}{mtu:>10}        ")
        return "\n".join(lines) + "\n"

    def show_interfaces(self) -> str:
        """`show interfaces`."""
        out = []
        for name, children in self.interfaces():
            shut = "shutdown" in children
            loopback = name.startswith("Loopback")
            state = (
                "administratively down, line protocol is down (disabled)"
                if shut
                else "up, line protocol is up (connected)"
            )
            block = [f"{name} is {state}"]
            mac = self.mac(name)
            block.append(
                "  Hardware is Loopback"
                if loopback
                else f"  Hardware is Ethernet, address is {mac} (bia {mac})"
            )
            description = next((c[12:] for c in children if c.startswith("description ")), None)
            if description:
                block.append(f"  Description: {description}")
            address = self._address(children)
            if address:
                block += [
                    f"  Internet address is {address.with_prefixlen}",
                    "  Broadcast address is 255.255.255.255",
                    "  Address determined by manual configuration",
                ]
            else:
                block.append("  No Internet protocol address assigned")
            if loopback:
                block += ["  IP MTU 65535 bytes", "  Up 2 days, 3 hours, 4 minutes, 5 seconds"]
                out.append("\n".join(block))
                continue
            block += [
                "  IP MTU 1500 bytes , BW 1000000 kbit",
                "  Full-duplex, 1Gb/s, auto negotiation: off, uni-link: unknown",
                "  Down 1 minutes, 2 seconds"
                if shut
                else "  Up 2 days, 3 hours, 4 minutes, 5 seconds",
                "  1 link status changes since last clear",
                '  Last clearing of "show interface" counters never',
                "  5 minutes input rate 1000 bps (0.0% with framing overhead), 1 packets/sec",
                "  5 minutes output rate 1000 bps (0.0% with framing overhead), 1 packets/sec",
                "     12345 packets input, 1234567 bytes",
                "     Received 10 broadcasts, 0 multicast",
                "     0 runts, 0 giants",
                "     0 input errors, 0 CRC, 0 alignment, 0 symbol, 0 input discards",
                "     0 PAUSE input",
                "     12345 packets output, 1234567 bytes",
                "     Sent 0 broadcasts, 32 multicast",
                "     0 output errors, 0 collisions",
                "     0 late collision, 0 deferred, 0 output discards",
                "     0 PAUSE output",
            ]
            out.append("\n".join(block))
        return "\n".join(out) + "\n"

    def show_lldp_neighbors_detail(self) -> str:
        """`show lldp neighbors detail`."""
        out = []
        up = self._up_neighbors()
        for name, _ in self.interfaces():
            if name.startswith("Loopback"):
                continue
            here = [n for n in up if n.local_interface == name]
            out.append(f"Interface {name} detected {len(here)} LLDP neighbors:\n")
            for n in here:
                out.append(
                    f'  Neighbor {n.mac}/"{n.interface}", age 12 seconds\n'
                    "  Discovered 0:01:11 ago; Last changed 0:01:11 ago\n"
                    "  - Chassis ID type: MAC address (4)\n"
                    f"    Chassis ID     : {n.mac}\n"
                    "  - Port ID type: Interface name (5)\n"
                    f'    Port ID     : "{n.interface}"\n'
                    "  - Time To Live: 120 seconds\n"
                    f'  - System Name: "{n.name}.{self.domain}"\n'
                    f'  - System Description: "{n.description or DESCRIPTION}"\n'
                    "  - System Capabilities : Bridge, Router\n"
                    "    Enabled Capabilities: Router\n"
                    "  - Management Address Subtype: IPv4 (1)\n"
                    f"    Management Address        : {n.address}\n"
                    "    Interface Number Subtype  : ifIndex (2)\n"
                    "    Interface Number          : 1\n"
                    "    OID String                : \n"
                    "  - IEEE802.3 Maximum Frame Size: 9236 bytes\n"
                )
        return "\n".join(out)

    def show_running_config(self) -> str:
        """`show running-config`, with EOS's header comments."""
        changed = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(self.last_change))
        return (
            f"! Command: show running-config\n! device: {self.hostname} ({EOS_MODEL}, "
            f"EOS-{EOS_VERSION})\n! Time: {changed}\n!\n! boot system flash:/vEOS-lab.swi\n!\n"
            + self.config.render(indent=3)
        )

    def shows(self) -> dict[tuple[str, ...], Callable[[], str]]:
        """EOS's show commands (no CDP; `show hostname`)."""
        return {
            ("show", "version"): self.show_version,
            ("show", "hostname"): lambda: f"Hostname: {self.hostname}\nFQDN:     {self._fqdn()}\n",
            ("show", "ip", "interface", "brief"): self.show_ip_interface_brief,
            ("show", "interfaces"): self.show_interfaces,
            ("show", "lldp", "neighbors", "detail"): self.show_lldp_neighbors_detail,
            ("show", "running-config"): self.show_running_config,
            ("show", "startup-config"): lambda: self.startup or "startup-config is not present\n",
        }

    def _fqdn(self) -> str:
        domain = self.config.value("ip domain-name ") or self.config.value("dns domain ")
        return f"{self.hostname}.{domain or self.domain}"

    def exec_command(self, command: str) -> str | None:
        """As IOS, plus `| json` for the commands NAPALM's EOS driver reads."""
        base, pipe, fmt = command.partition("|")
        if pipe and fmt.strip() == "json":
            model = self.json_models().get(" ".join(base.split()))
            return None if model is None else json.dumps(model(), indent=2) + "\n"
        return super().exec_command(command)

    def json_models(self) -> dict[str, Callable[[], dict[str, Any]]]:
        """eAPI-style answers, by command."""
        return {
            "show version": self._version_json,
            "show hostname": lambda: {"hostname": self.hostname, "fqdn": self._fqdn()},
            "show interfaces": self._interfaces_json,
            "show lldp neighbors": self._lldp_json,
        }

    def _version_json(self) -> dict[str, Any]:
        return {
            "modelName": EOS_MODEL,
            "internalVersion": f"{EOS_VERSION}-39953990.4316M",
            "systemMacAddress": self.mac("system"),
            "serialNumber": self.serial,
            "version": EOS_VERSION,
            "architecture": "x86_64",
            "bootupTimestamp": self.booted_at,
            "memTotal": 4002196,
            "memFree": 2631664,
            "hardwareRevision": "",
        }

    def _interfaces_json(self) -> dict[str, Any]:
        interfaces = {}
        for name, children in self.interfaces():
            shut = "shutdown" in children
            address = self._address(children)
            description = next((c[12:] for c in children if c.startswith("description ")), "")
            interfaces[name] = {
                "name": name,
                "description": description,
                "lineProtocolStatus": "down" if shut else "up",
                "interfaceStatus": "disabled" if shut else "connected",
                "lastStatusChangeTimestamp": self.booted_at,
                "bandwidth": 8_000_000_000 if name.startswith("Loopback") else 1_000_000_000,
                "mtu": 65535 if name.startswith("Loopback") else 1500,
                "physicalAddress": "" if name.startswith("Loopback") else self.mac(name),
                "interfaceAddress": [
                    {
                        "primaryIp": {
                            "address": str(address.ip) if address else "0.0.0.0",
                            "maskLen": address.network.prefixlen if address else 0,
                        }
                    }
                ],
            }
        return {"interfaces": interfaces}

    def _lldp_json(self) -> dict[str, Any]:
        return {
            "lldpNeighbors": [
                {
                    "port": n.local_interface,
                    "neighborDevice": f"{n.name}.{self.domain}",
                    "neighborPort": n.interface,
                    "ttl": 120,
                }
                for n in self._up_neighbors()
            ]
        }
