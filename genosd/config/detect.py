"""Which network OS a config file comes from, read from the lines only that OS writes."""

from __future__ import annotations

import re

# (platform, regex, weight): lines characteristic of one OS's `show running-config` (or Junos's
# `show configuration`); the platform with the highest total wins
_MARKS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (platform, re.compile(pattern, re.MULTILINE), weight)
    for platform, pattern, weight in (
        ("junos", r"^set (system|interfaces|protocols|snmp|routing-options|security) ", 3),
        ("junos", r"^## Last (commit|changed): ", 5),
        ("junos", r"^(system|interfaces|protocols|routing-options|snmp) \{$", 5),
        ("junos", r"^version \d+\.\d+[A-Z0-9.-]*;$", 5),
        ("nxos", r"^!Command: show running-config", 5),
        ("nxos", r"^feature \S+$", 2),
        ("nxos", r"^version \d+\.\d+\(\d+\)", 3),
        ("nxos", r"^vrf context ", 2),
        ("nxos", r"^(interface|username) .*(mgmt0|role network-)", 2),
        ("eos", r"^! device: \S+ \(", 5),
        ("eos", r"^! Command: show running-config", 3),
        ("eos", r"^management (api http-commands|security|ssh)$", 2),
        ("eos", r"^service routing protocols model ", 3),
        ("eos", r"^transceiver qsfp default-mode ", 3),
        ("eos", r"^interface (Ethernet|Management)\d+(/\d+)*$", 1),
        ("eos", r"^username \S+ privilege \d+ role ", 2),
        ("ios", r"^Building configuration", 5),
        ("ios", r"^Current configuration : \d+ bytes", 5),
        ("ios", r"^version \d+\.\d+$", 2),
        ("ios", r"^service (timestamps|password-encryption)", 1),
        ("ios", r"^interface (GigabitEthernet|FastEthernet|TenGigabitEthernet)\d", 2),
        ("ios", r"^line (vty|con|aux) \d", 1),
        ("ios", r"^ip (domain[ -]name|ssh version) ", 1),
    )
)


def detect_platform(text: str) -> str | None:
    """The platform whose marks the config carries most, or None when it carries none."""
    scores: dict[str, int] = {}
    for platform, pattern, weight in _MARKS:
        hits = len(pattern.findall(text))
        if hits:
            scores[platform] = scores.get(platform, 0) + weight * min(hits, 5)
    if not scores:
        return None
    return max(scores, key=lambda platform: scores[platform])
