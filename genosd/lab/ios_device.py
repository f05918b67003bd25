"""A simulated Cisco IOS device: state, `show` outputs in IOS's own formats, and the CLI modes.

Outputs follow the layout of real IOS 15 captures closely enough that ntc-templates' TextFSM
templates, netmiko, scrapli and NAPALM's IOS getters read them as they read real gear (the lab
tests parse every one of them with ntc-templates). Everything is derived from the running config
and the lab topology, so a config change shows up in `show interfaces` like on a real box.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genosd.lab.ios_config import RunningConfig, is_section

IOS_VERSION = "15.6(2)T"
SOFTWARE = f"Cisco IOS Software, IOSv Software (VIOS-ADVENTERPRISEK9-M), Version {IOS_VERSION}, RELEASE SOFTWARE (fc2)"
VERSION_BANNER = (
    f"{SOFTWARE}\nTechnical Support: http://www.cisco.com/techsupport\n"
    "Copyright (c) 1986-2016 by Cisco Systems, Inc.\n"
    "Compiled Tue 22-Mar-16 16:19 by prod_rel_team\n"
)
INVALID = "% Invalid input detected at '^' marker.\n"
SHORT_NAMES = {"GigabitEthernet": "Gi", "Loopback": "Lo", "FastEthernet": "Fa", "Vlan": "Vl"}


@dataclass(frozen=True)
class Neighbor:
    """A device on the other end of a local interface (LLDP and CDP see the same)."""

    local_interface: str
    name: str
    interface: str
    address: str
    mac: str
    description: str = ""  # the neighbour's LLDP system description (its software)


@dataclass
class IosDevice:
    """The state of one simulated device."""

    platform = "ios"  # the platforms.yaml entry (and netmiko family) this device answers like
    invalid = INVALID
    saved = "Building configuration...\n[OK]\n"  # the answer to `write memory`
    short_names = SHORT_NAMES  # interface name abbreviations (LLDP's Local Intf)
    shows_in_config = False  # IOS needs `do show` in config mode; EOS and NX-OS take `show`
    name: str
    domain: str = "lab.genosd.invalid"
    serial: str = ""
    config: RunningConfig = field(default_factory=RunningConfig)
    startup: str = ""
    neighbors: list[Neighbor] = field(default_factory=list)
    booted_at: float = field(default_factory=time.time)
    last_change: float = field(default_factory=time.time)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.serial:
            self.serial = "9" + hashlib.sha256(self.name.encode()).hexdigest()[:10].upper()

    @property
    def hostname(self) -> str:
        """The configured hostname (the prompt)."""
        return self.config.value("hostname ") or self.name

    def submode(self, section: str) -> str:
        """The prompt's mode for a config section (`interface Gi0/0` → `config-if`)."""
        word = section.split()[0]
        return {
            "interface": "config-if",
            "router": "config-router",
            "line": "config-line",
            "vlan": "config-vlan",
        }.get(word, f"config-{word}")

    def terminal(self, words: list[str]) -> str:
        """The answer to `terminal length 0` and friends (IOS says nothing)."""
        return ""

    def tick(self) -> None:
        """Let time-based behaviour (commit timers) happen; IOS has none."""

    def mac(self, interface: str) -> str:
        """A stable MAC address per interface, in Cisco's dotted form."""
        digest = hashlib.sha256(f"{self.name}/{interface}".encode()).hexdigest()
        return f"5254.{digest[:4]}.{digest[4:8]}"

    # -- show outputs -------------------------------------------------------------------------

    def show_version(self) -> str:
        """`show version`."""
        up = int(time.time() - self.booted_at)
        days, hours, minutes = up // 86400, up % 86400 // 3600, up % 3600 // 60
        uptime = (
            f"{days} days, {hours} hours, {minutes} minutes"
            if days
            else f"{hours} hours, {minutes} minutes"
        )
        interfaces = len(self.config.sections("interface GigabitEthernet"))
        return (
            f"{VERSION_BANNER}\n\n"
            "ROM: Bootstrap program is IOSv\n\n"
            f"{self.hostname} uptime is {uptime}\n"
            "System returned to ROM by reload\n"
            'System image file is "flash0:/vios-adventerprisek9-m"\n'
            "Last reload reason: Unknown reason\n\n\n\n"
            "Cisco IOSv (revision 1.0) with  with 460137K/62464K bytes of memory.\n"
            f"Processor board ID {self.serial}\n"
            f"{interfaces} Gigabit Ethernet interfaces\n"
            "DRAM configuration is 72 bits wide with parity disabled.\n"
            "256K bytes of non-volatile configuration memory.\n"
            "2097152K bytes of ATA System CompactFlash 0 (Read/Write)\n\n"
            "Configuration register is 0x0\n"
        )

    def show_hosts(self) -> str:
        """`show hosts` (NAPALM's get_facts reads the domain here)."""
        domain = self.config.value("ip domain name ") or self.domain
        return (
            f"Default domain is {domain}\nName/address lookup uses static mappings\n\n"
            "Codes: UN - unknown, EX - expired, OK - OK, ?? - revalidate\n"
            "       temp - temporary, perm - permanent\n       NA - Not Applicable None - Not defined\n\n"
            "Host                      Port  Flags      Age Type   Address(es)\n"
        )

    def interfaces(self) -> list[tuple[str, list[str]]]:
        """(name, config lines) of every configured interface."""
        return [(b.line.split(" ", 1)[1], b.children) for b in self.config.sections("interface ")]

    @staticmethod
    def _address(children: list[str]) -> ipaddress.IPv4Interface | None:
        for child in children:
            parts = child.split()
            if len(parts) >= 3 and parts[:2] == ["ip", "address"]:
                # IOS: address and mask; EOS and NX-OS: address/prefix
                mask = f"/{parts[3]}" if len(parts) >= 4 and "/" not in parts[2] else ""
                return ipaddress.IPv4Interface(parts[2] + mask)
        return None

    def show_ip_interface_brief(self) -> str:
        """`show ip interface brief`."""
        lines = ["Interface              IP-Address      OK? Method Status                Protocol"]
        for name, children in self.interfaces():
            address = self._address(children)
            shut = "shutdown" in children
            status, proto = ("administratively down", "down") if shut else ("up", "up")
            ip = str(address.ip) if address else "unassigned"
            lines.append(f"{name:<23}{ip:<16}YES NVRAM  {status:<22}{proto}")
        return "\n".join(lines) + "\n"

    def show_ip_route(self) -> str:
        """`show ip route`: the connected and local routes of the interfaces that are up."""
        lines = [
            "Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP",
            "       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area",
            "",
            "Gateway of last resort is not set",
            "",
        ]
        for name, children in self.interfaces():
            address = self._address(children)
            if address is None or "shutdown" in children:
                continue
            network = address.network
            if network.prefixlen < 32:
                lines.append(f"C        {network} is directly connected, {name}")
            lines.append(f"L        {address.ip}/32 is directly connected, {name}")
        return "\n".join(lines) + "\n"

    def show_interfaces(self) -> str:
        """`show interfaces`."""
        return "\n".join(block for _, block in self._interface_blocks()) + "\n"

    def _interface_blocks(self) -> list[tuple[str, str]]:
        out = []
        for name, children in self.interfaces():
            shut = "shutdown" in children
            state = (
                "administratively down, line protocol is down"
                if shut
                else "up, line protocol is up"
            )
            address = self._address(children)
            description = next((c[12:] for c in children if c.startswith("description ")), None)
            loopback = name.startswith("Loopback")
            mac = self.mac(name)
            block = [f"{name} is {state} "]
            block.append(
                "  Hardware is Loopback"
                if loopback
                else f"  Hardware is iGbE, address is {mac} (bia {mac})"
            )
            if description:
                block.append(f"  Description: {description}")
            if address:
                block.append(f"  Internet address is {address.with_prefixlen}")
            bw = "8000000" if loopback else "1000000"
            block += [
                f"  MTU {1514 if loopback else 1500} bytes, BW {bw} Kbit/sec, DLY 10 usec, ",
                "     reliability 255/255, txload 1/255, rxload 1/255",
                "  Encapsulation LOOPBACK, loopback not set"
                if loopback
                else "  Encapsulation ARPA, loopback not set",
                "  Keepalive set (10 sec)",
            ]
            half = "duplex half" in children
            speed = next((c[6:] for c in children if c.startswith("speed ")), "1000")
            if not loopback:
                block += [
                    f"  {'Half' if half else 'Full'} Duplex, "
                    f"{'1Gbps' if speed == '1000' else speed + 'Mbps'}, media type is RJ45",
                    "  output flow-control is unsupported, input flow-control is unsupported",
                    "  ARP type: ARPA, ARP Timeout 04:00:00",
                ]
            block += [
                "  Last input 00:00:01, output 00:00:01, output hang never",
                '  Last clearing of "show interface" counters never',
                "  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0",
                "  Queueing strategy: fifo",
                "  Output queue: 0/40 (size/max)",
                "  5 minute input rate 1000 bits/sec, 1 packets/sec",
                "  5 minute output rate 1000 bits/sec, 1 packets/sec",
                "     12345 packets input, 1234567 bytes, 0 no buffer",
                "     Received 10 broadcasts (0 IP multicasts)",
                "     0 runts, 0 giants, 0 throttles ",
                "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
                "     12345 packets output, 1234567 bytes, 0 underruns",
                # a half-duplex end of a full-duplex link collides late on every busy second
                f"     {self.collisions(name) if half else 0} output errors, "
                f"{self.collisions(name) if half else 0} collisions, 1 interface resets",
                "     0 unknown protocol drops",
                "     0 output buffer failures, 0 output buffers swapped out",
            ]
            out.append((name, "\n".join(block)))
        return out

    def collisions(self, interface: str) -> int:
        """Late collisions a half-duplex interface has counted so far (grows with time)."""
        return 3 * int(time.time() - self.started) + 7

    def _interface_named(self, text: str) -> str | None:
        """The interface `text` names, in full or abbreviated (Gi0/1, gig0/1)."""
        match = re.match(r"^([A-Za-z-]+)\s*([0-9/.:]+)$", text)
        if match is None:
            return None
        word, number = match[1].lower(), match[2]
        for name, _ in self.interfaces():
            here = re.match(r"^([A-Za-z-]+)([0-9/.:]+)$", name)
            if here and here[2] == number and here[1].lower().startswith(word):
                return name
        return None

    def show_one_interface(self, text: str) -> str:
        """`show interfaces NAME`."""
        name = self._interface_named(text)
        if name is None:
            return "                           ^\n% Invalid input detected at '^' marker.\n"
        return dict(self._interface_blocks())[name] + "\n"

    def _reachable(self, target: str) -> str | None:
        """The interface that reaches `target` (own or directly connected), or None."""
        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            return None
        for name, children in self.interfaces():
            address = self._address(children)
            if address is not None and "shutdown" not in children and ip in address.network:
                return name
        return None

    def ping(self, words: list[str]) -> str:
        """`ping TARGET [repeat N]`: answered within the connected subnets."""
        target = words[1]
        count = int(words[3]) if len(words) >= 4 and words[2] == "repeat" else 5
        ok = self._reachable(target) is not None
        marks = ("!" if ok else ".") * count
        tail = (
            f"Success rate is 100 percent ({count}/{count}), round-trip min/avg/max = 1/1/2 ms"
            if ok
            else f"Success rate is 0 percent (0/{count})"
        )
        return (
            "Type escape sequence to abort.\n"
            f"Sending {count}, 100-byte ICMP Echos to {target}, timeout is 2 seconds:\n"
            f"{marks}\n{tail}\n"
        )

    def traceroute(self, target: str) -> str:
        """`traceroute TARGET`: one hop within the connected subnets, stars beyond."""
        hop = f"  1 {target} 1 msec 1 msec 1 msec" if self._reachable(target) else "  1  *  *  * "
        return (
            "Type escape sequence to abort.\n"
            f"Tracing the route to {target}\nVRF info: (vrf in name/id, vrf out name/id)\n{hop}\n"
        )

    def _short(self, interface: str) -> str:
        for long, short in self.short_names.items():
            if interface.startswith(long):
                return short + interface[len(long) :]
        return interface

    def show_lldp_neighbors_detail(self) -> str:
        """`show lldp neighbors detail`."""
        out = []
        for n in self._up_neighbors():
            out.append(
                "------------------------------------------------\n"
                f"Local Intf: {self._short(n.local_interface)}\n"
                f"Chassis id: {n.mac}\n"
                f"Port id: {self._short(n.interface)}\n"
                f"Port Description: {n.interface}\n"
                f"System Name: {n.name}.{self.domain}\n\n"
                f"System Description: \n{VERSION_BANNER}\n"
                "Time remaining: 105 seconds\n"
                "System Capabilities: B,R\n"
                "Enabled Capabilities: R\n"
                "Management Addresses:\n"
                f"    IP: {n.address}\n"
                "Auto Negotiation - not supported\n"
                "Physical media capabilities - not advertised\n"
                "Media Attachment Unit type - not advertised\n"
                "Vlan ID: - not advertised\n"
            )
        return "".join(out) + f"\nTotal entries displayed: {len(out)}\n"

    def show_cdp_neighbors_detail(self) -> str:
        """`show cdp neighbors detail`."""
        out = []
        for n in self._up_neighbors():
            out.append(
                "-------------------------\n"
                f"Device ID: {n.name}.{self.domain}\n"
                "Entry address(es): \n"
                f"  IP address: {n.address}\n"
                "Platform: Cisco ,  Capabilities: Router Source-Route-Bridge \n"
                f"Interface: {n.local_interface},  Port ID (outgoing port): {n.interface}\n"
                "Holdtime : 155 sec\n\n"
                f"Version :\n{VERSION_BANNER}\n"
                "advertisement version: 2\n"
                "Management address(es): \n"
                f"  IP address: {n.address}\n\n"
            )
        return "".join(out) + f"\nTotal cdp entries displayed : {len(out)}\n"

    def _up_neighbors(self) -> list[Neighbor]:
        shut = {name for name, children in self.interfaces() if "shutdown" in children}
        return [n for n in self.neighbors if n.local_interface not in shut]

    def show_running_config(self) -> str:
        """`show running-config`, with IOS's volatile header lines."""
        body = self.config.render()
        changed = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime(self.last_change))
        text = f"!\n! Last configuration change at {changed}\n!\n{body}"
        return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n{text}"

    # -- commands -----------------------------------------------------------------------------

    def exec_command(self, command: str) -> str | None:
        """The output of an exec-mode command; None when the command does not exist."""
        words = command.split()
        if not words:
            return ""
        for key, render in self.shows().items():
            if len(words) == len(key) and all(
                full.startswith(word) for word, full in zip(words, key, strict=True)
            ):
                return render()
        if words[0] == "ping" and len(words) in (2, 4):
            return self.ping(words)
        if words[0] == "traceroute" and len(words) == 2:
            return self.traceroute(words[1])
        if len(words) == 3 and "show".startswith(words[0]) and "interfaces".startswith(words[1]):
            return self.show_one_interface(words[2])
        if words[0] in ("terminal", "term") and len(words) >= 2:
            return self.terminal(words)
        write = words[0] in ("write", "wr") and all("memory".startswith(w) for w in words[1:2])
        if (write and len(words) <= 2) or command == "copy running-config startup-config":
            self.startup = self.show_running_config()
            return self.saved
        return None

    def shows(self) -> dict[tuple[str, ...], Callable[[], str]]:
        """The show commands this device knows, by their words."""
        return {
            ("show", "version"): self.show_version,
            ("show", "hosts"): self.show_hosts,
            ("show", "ip", "interface", "brief"): self.show_ip_interface_brief,
            ("show", "interfaces"): self.show_interfaces,
            ("show", "ip", "route"): self.show_ip_route,
            ("show", "lldp", "neighbors", "detail"): self.show_lldp_neighbors_detail,
            ("show", "cdp", "neighbors", "detail"): self.show_cdp_neighbors_detail,
            ("show", "running-config"): self.show_running_config,
            ("show", "startup-config"): lambda: self.startup or "startup-config is not present\n",
        }

    def config_command(self, section: str | None, command: str) -> tuple[str | None, str]:
        """Apply one config-mode command: (the section now entered or None, output)."""
        self.last_change = time.time()
        negate = command.startswith("no ")
        body = command[3:] if negate else command
        if section is not None and not is_section(command):
            block = self.config.enter(section)
            if negate:
                self.config.remove_child(block, body)
            else:
                self.config.set_child(block, command)
            return section, ""
        if is_section(body):
            if negate:
                self.config.remove_top(body)
                return None, ""
            self.config.enter(body)
            return body, ""
        if negate:
            self.config.remove_top(body)
        else:
            self.config.set_top(command)
        return None, ""
