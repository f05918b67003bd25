"""The running configuration of a simulated IOS-style device, changed by config-mode commands.

The config is a list of top-level lines, each with its child lines (IOS indents children by one
space). Config-mode commands edit it the way IOS does for the commands the lab uses: entering a
section creates it, `no …` removes a line, single-valued commands (hostname, description,
ip address …) replace the previous value instead of adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECTION_WORDS = (
    "interface ",
    "router ",
    "line ",
    "vlan ",
    "ip access-list ",
    "class-map ",
    "policy-map ",
    "aaa group ",
    "tacacs server ",
    "ip vrf ",
    "vrf definition ",
    "key chain ",
    "archive",
    "management ",  # EOS: management ssh|telnet|api|security
    "radius server ",
    "aaa server radius ",
    "crypto isakmp client configuration group ",
    "crypto isakmp profile ",
    "crypto keyring ",
    "crypto ikev2 keyring ",
    "crypto ikev2 profile ",
    "dot11 ssid ",
    "wlan ",
    "mpls ldp",
)
SINGLE_VALUED_TOP = (
    "hostname ",
    "ip domain name ",
    "ip domain-name ",
    "enable secret ",
    "snmp-server location ",
    "snmp-server contact ",
    "clock timezone ",
    "logging source-interface ",
    "ntp source ",
    "banner motd ",
)
SINGLE_VALUED_CHILD = (
    "description ",
    "ip address ",
    "switchport mode ",
    "switchport access vlan ",
    "mtu ",
    "speed ",
    "duplex ",
    "transport input ",
    "exec-timeout ",
    "login ",
    "name ",
    "password ",
)


@dataclass
class Block:
    """A top-level line and its children."""

    line: str
    children: list[str] = field(default_factory=list)


def _prefix(line: str, singles: tuple[str, ...]) -> str | None:
    return next((p for p in singles if line.startswith(p)), None)


@dataclass
class RunningConfig:
    """An editable IOS-style configuration."""

    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> RunningConfig:
        """Read `show running-config` style text (comments, `!` and `end` are skipped)."""
        blocks: list[Block] = []
        for raw in text.splitlines():
            if not raw.strip() or raw.strip() in ("!", "end") or raw.startswith("!"):
                continue
            if raw.startswith(" ") and blocks:
                blocks[-1].children.append(raw.strip())
            else:
                blocks.append(Block(raw.strip()))
        return cls(blocks)

    def find(self, line: str) -> Block | None:
        """The block whose line is exactly `line`."""
        return next((b for b in self.blocks if b.line == line), None)

    def value(self, prefix: str) -> str | None:
        """The rest of the first top-level line starting with `prefix`."""
        block = next((b for b in self.blocks if b.line.startswith(prefix)), None)
        return block.line[len(prefix) :] if block else None

    def sections(self, prefix: str) -> list[Block]:
        """Blocks whose line starts with `prefix` (e.g. every `interface `)."""
        return [b for b in self.blocks if b.line.startswith(prefix)]

    def enter(self, line: str) -> Block:
        """The section `line`, created at the end if it does not exist."""
        block = self.find(line)
        if block is None:
            block = Block(line)
            self.blocks.append(block)
        return block

    def set_top(self, line: str) -> None:
        """Add a top-level line, replacing the value of a single-valued command."""
        if self.find(line) is not None:
            return
        prefix = _prefix(line, SINGLE_VALUED_TOP)
        if prefix is not None:
            for i, block in enumerate(self.blocks):
                if block.line.startswith(prefix):
                    self.blocks[i] = Block(line, block.children)
                    return
        self.blocks.append(Block(line))

    def remove_top(self, line: str) -> bool:
        """`no <line>`: remove the matching line (or the single-valued command it names)."""
        keep = [b for b in self.blocks if not (b.line == line or b.line.startswith(line + " "))]
        removed = len(keep) != len(self.blocks)
        self.blocks = keep
        return removed

    @staticmethod
    def set_child(block: Block, line: str) -> None:
        """Add a child line to a section, replacing single-valued settings."""
        if line in block.children:
            return
        if line == "no shutdown":
            block.children = [c for c in block.children if c != "shutdown"]
            return
        prefix = _prefix(line, SINGLE_VALUED_CHILD)
        if prefix is not None:
            for i, child in enumerate(block.children):
                if child.startswith(prefix):
                    block.children[i] = line
                    return
        block.children.append(line)

    @staticmethod
    def remove_child(block: Block, line: str) -> None:
        """`no <line>` inside a section."""
        block.children = [c for c in block.children if not (c == line or c.startswith(line + " "))]

    def render(self, indent: int = 1) -> str:
        """The configuration as IOS prints it (EOS: indent 3), without the volatile header."""
        out: list[str] = []
        pad = " " * indent
        for block in self.blocks:
            out.append(block.line)
            out.extend(f"{pad}{child}" for child in block.children)
            if block.children or block.line.startswith(SECTION_WORDS):
                out.append("!")
        return "\n".join([*out, "end"]) + "\n"


def is_section(line: str) -> bool:
    """Whether a config-mode command enters a sub-mode."""
    return line.startswith(SECTION_WORDS)
