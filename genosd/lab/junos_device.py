"""A simulated Juniper Junos router: set-style candidate config, commit, commit confirmed, rollback.

The config is the list of `set` lines `show configuration | display set` prints. Config mode edits a
candidate shared by all sessions (like `configure`): `set` adds a line, `delete` removes the lines
under a path, `commit` makes the candidate the active config and keeps the previous ones for
`rollback N`, and `commit confirmed N` reverts by itself unless a second commit confirms it within
N minutes (`minute` seconds each, shortened by the tests). Show outputs follow real Junos 21 captures
(ntc-templates' juniper_junos fixtures).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genosd.lab.ios_device import Neighbor

JUNOS_VERSION = "21.4R3.15"
MODEL = "vmx"
UNKNOWN = "                ^\nunknown command.\n"
SYNTAX = "                ^\nsyntax error.\n"


def parse_set(text: str) -> list[str]:
    """The `set` lines of a `display set` text."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("set ")]


@dataclass
class JunosDevice:
    """The state of one simulated Junos device."""

    platform = "junos"
    name: str
    domain: str = "lab.genosd.invalid"
    serial: str = ""
    active: list[str] = field(default_factory=list)
    candidate: list[str] | None = None  # None: no uncommitted change
    rollbacks: list[list[str]] = field(default_factory=list)  # rollback 1, 2 … (newest first)
    neighbors: list[Neighbor] = field(default_factory=list)
    minute: float = 60.0
    confirm_deadline: float | None = None
    revert_to: list[str] | None = None  # what an unconfirmed `commit confirmed` goes back to
    commits: list[str] = field(default_factory=list)  # "commit", "commit confirmed N", "revert"
    booted_at: float = field(default_factory=time.time)
    last_commit: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.serial:
            self.serial = "VM" + hashlib.sha256(self.name.encode()).hexdigest()[:10].upper()

    @property
    def hostname(self) -> str:
        """The committed `system host-name`."""
        prefix = "set system host-name "
        return next(
            (line[len(prefix) :] for line in self.active if line.startswith(prefix)), self.name
        )

    def mac(self, interface: str) -> str:
        """A stable MAC address per interface."""
        digest = hashlib.sha256(f"{self.name}/{interface}".encode()).hexdigest()
        return "52:54:" + ":".join(digest[i : i + 2] for i in range(0, 8, 2))

    # -- the commit model ---------------------------------------------------------------------

    def tick(self) -> None:
        """Revert an unconfirmed `commit confirmed` whose time is up."""
        if self.confirm_deadline is not None and time.time() >= self.confirm_deadline:
            assert self.revert_to is not None
            self.rollbacks.insert(0, self.active)
            self.active, self.revert_to, self.confirm_deadline = self.revert_to, None, None
            self.last_commit = time.time()
            self.commits.append("revert")

    def edit(self) -> list[str]:
        """The candidate, created from the active config on the first change."""
        if self.candidate is None:
            self.candidate = list(self.active)
        return self.candidate

    def set_line(self, line: str) -> None:
        """`set …`: add a statement (a single-valued leaf replaces its old value)."""
        candidate = self.edit()
        if line in candidate:
            return
        single = re.match(
            r"(set .*\b(?:description|host-name|domain-name|location|contact)) ", line
        )
        if single:
            candidate[:] = [c for c in candidate if not c.startswith(single.group(1) + " ")]
        candidate.append(line)

    def delete(self, path: str) -> bool:
        """`delete …`: remove the statement and everything under it; False if there was none."""
        candidate = self.edit()
        target = "set " + path
        kept = [c for c in candidate if not (c == target or c.startswith(target + " "))]
        removed = len(kept) != len(candidate)
        candidate[:] = kept
        return removed

    def commit(self, confirm_minutes: int | None = None) -> str:
        """`commit [confirmed N]`; a plain commit also confirms a pending confirmed one."""
        if confirm_minutes is not None and self.revert_to is None:
            self.revert_to = self.active  # a second confirmed commit keeps the first's target
        if self.candidate is not None and self.candidate != self.active:
            self.rollbacks.insert(0, self.active)
            del self.rollbacks[49:]
            self.active = self.candidate
            self.last_commit = time.time()
        self.candidate = None
        self.commits.append(
            "commit" if confirm_minutes is None else f"commit confirmed {confirm_minutes}"
        )
        if confirm_minutes is not None:
            self.confirm_deadline = time.time() + confirm_minutes * self.minute
            return (
                f"commit confirmed will be automatically rolled back in {confirm_minutes} "
                "minutes unless confirmed\ncommit complete\n"
            )
        self.confirm_deadline = self.revert_to = None
        return "commit complete\n"

    def rollback(self, number: int) -> str:
        """`rollback N`: load an earlier config into the candidate."""
        if number == 0:
            self.candidate = None
            return "load complete\n"
        if number > len(self.rollbacks):
            return "error: rollback file does not exist\n"
        self.candidate = list(self.rollbacks[number - 1])
        return "load complete\n"

    def compare(self) -> str:
        """`show | compare`: the candidate against the active config."""
        if self.candidate is None:
            return ""
        removed = [f"-   {line[4:]}" for line in self.active if line not in self.candidate]
        added = [f"+   {line[4:]}" for line in self.candidate if line not in self.active]
        return "\n".join(["[edit]", *removed, *added]) + "\n" if removed or added else ""

    # -- show outputs -------------------------------------------------------------------------

    def show_configuration(self) -> str:
        """`show configuration | display set`."""
        return "\n".join([f"set version {JUNOS_VERSION}", *self.active]) + "\n"

    def show_version(self) -> str:
        """`show version`."""
        return (
            f"Hostname: {self.hostname}\nModel: {MODEL}\nJunos: {JUNOS_VERSION}\n"
            f"JUNOS OS Kernel 64-bit  [20220712.4a2c5b4_builder_stable_12]\n"
            f"JUNOS Packet Forwarding Engine Support (MX Common) [{JUNOS_VERSION}]\n"
            f"JUNOS Routing Software Suite [{JUNOS_VERSION}]\n"
        )

    def interfaces(self) -> dict[str, dict[str, str]]:
        """Per configured interface: description, address, disabled (from the active config)."""
        found: dict[str, dict[str, str]] = {}
        for line in self.active:
            m = re.match(r"set interfaces (\S+) (.*)", line)
            if not m:
                continue
            data = found.setdefault(m.group(1), {})
            rest = m.group(2)
            if rest.startswith("description "):
                data["description"] = rest[12:].strip('"')
            elif rest == "disable":
                data["disabled"] = "yes"
            elif a := re.match(r"unit 0 family inet address (\S+)", rest):
                data["address"] = a.group(1)
        return found

    def show_interfaces(self) -> str:
        """`show interfaces` (physical and unit 0)."""
        out = []
        for index, (name, data) in enumerate(sorted(self.interfaces().items()), start=1):
            down = "disabled" in data
            mac = self.mac(name)
            state = (
                "Administratively down, Physical link is Down"
                if down
                else "Enabled, Physical link is Up"
            )
            block = [
                f"Physical interface: {name}, {state}",
                f"  Interface index: {147 + index}, SNMP ifIndex: {525 + index}",
            ]
            if "description" in data:
                block.append(f"  Description: {data['description']}")
            mtu = "Unlimited" if name.startswith("lo") else "1514"
            block += [
                f"  Link-level type: Ethernet, MTU: {mtu}, LAN-PHY mode, Speed: 1000mbps, "
                "BPDU Error: None, Loop Detect PDU Error: None, MAC-REWRITE Error: None, "
                "Loopback: Disabled, Source filtering: Disabled, Flow control: Enabled",
                "  Device flags   : Present Running",
                "  Interface flags: SNMP-Traps Internal: 0x4000",
                "  Link flags     : None",
                f"  Current address: {mac}, Hardware address: {mac}",
                "  Last flapped   : 2026-11-19 10:00:00 UTC (2d 01:00 ago)",
                "  Input rate     : 1000 bps (1 pps)",
                "  Output rate    : 1000 bps (1 pps)",
                "  Active alarms  : None",
                "  Active defects : None",
                "  Interface transmit statistics: Disabled",
                "",
                f"  Logical interface {name}.0 (Index {332 + index}) (SNMP ifIndex {536 + index})",
                f"    Flags: {'Down' if down else 'Up'} SNMP-Traps 0x4004000 Encapsulation: ENET2",
                "    Input packets : 12345",
                "    Output packets: 12345",
            ]
            if "address" in data:
                network = ipaddress.IPv4Interface(data["address"]).network
                local = data["address"].split("/")[0]
                block += [
                    "    Protocol inet, MTU: 1500",
                    "      Flags: Sendbcast-pkt-to-re",
                    "      Addresses, Flags: Is-Preferred Is-Primary",
                    f"        Destination: {network}, Local: {local}, "
                    f"Broadcast: {network.broadcast_address}",
                ]
            out.append("\n".join(block))
        return "\n\n".join(out) + "\n"

    def show_lldp_neighbors(self) -> str:
        """`show lldp neighbors`."""
        disabled = {n for n, d in self.interfaces().items() if "disabled" in d}
        lines = [
            "Local Interface    Parent Interface    Chassis Id          Port info          "
            "System Name"
        ]
        for n in self.neighbors:
            if n.local_interface in disabled:
                continue
            lines.append(f"{n.local_interface:<19}{'-':<20}{n.mac:<20}{n.interface:<19}{n.name}")
        return "\n".join(lines) + "\n"

    def shows(self) -> dict[tuple[str, ...], Callable[[], str]]:
        """The operational show commands, by their words."""
        return {
            ("show", "version"): self.show_version,
            ("show", "interfaces"): self.show_interfaces,
            ("show", "lldp", "neighbors"): self.show_lldp_neighbors,
            ("show", "configuration"): self.show_configuration,
            ("show", "system", "commit"): lambda: (
                "0   "
                + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.last_commit))
                + " by admin via cli"
                + (" commit confirmed, rollback pending" if self.confirm_deadline else "")
                + "\n"
            ),
        }

    def operational(self, command: str) -> str | None:
        """The output of an operational-mode command; None when it does not exist."""
        self.tick()
        base = command.split("|")[0].split()
        if base[:2] == ["set", "cli"]:
            setting = " ".join(base[2:])
            return {
                "screen-width 511": "Screen width set to 511\n",
                "screen-length 0": "Screen length set to 0\n",
                "complete-on-space off": "Disabling complete-on-space\n",
            }.get(setting, "")
        for key, render in self.shows().items():
            if len(base) == len(key) and all(
                full.startswith(word) for word, full in zip(base, key, strict=True)
            ):
                return render()
        return None
