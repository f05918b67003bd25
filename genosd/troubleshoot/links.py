"""Both ends of a cable: duplex and speed mismatches, links down, neighbours one end lost."""

from __future__ import annotations

from typing import Any

from genosd.troubleshoot.findings import Finding
from genosd.troubleshoot.interfaces import duplex_of, speed_of


def mismatches(
    link: dict[str, Any], a_row: dict[str, Any] | None, b_row: dict[str, Any] | None
) -> list[Finding]:
    """Duplex or speed that differ between the two ends of `link` (a topology link)."""
    if a_row is None or b_row is None:
        return []
    found = []
    name = f"{link['a']} {link['a_interface']} ↔ {link['b']} {link['b_interface']}"
    a_duplex, b_duplex = duplex_of(a_row), duplex_of(b_row)
    if a_duplex in ("full", "half") and b_duplex in ("full", "half") and a_duplex != b_duplex:
        half = link["a"] if a_duplex == "half" else link["b"]
        full = link["b"] if a_duplex == "half" else link["a"]
        found.append(
            Finding(
                "duplex_mismatch",
                "critical",
                link["a"],
                name,
                f"duplex mismatch: {link['a']} is {a_duplex}, {link['b']} is {b_duplex}",
                f"expect late collisions on {half} and CRC errors and runts on {full}; set "
                "both ends alike (auto on both, or full on both)",
                {"a": {"duplex": a_row.get("duplex")}, "b": {"duplex": b_row.get("duplex")}},
            )
        )
    a_speed, b_speed = speed_of(a_row), speed_of(b_row)
    if a_speed and b_speed and a_speed != b_speed:
        found.append(
            Finding(
                "speed_mismatch",
                "critical",
                link["a"],
                name,
                f"speed mismatch: {link['a']} at {a_speed} Mb/s, {link['b']} at {b_speed} Mb/s",
                "a link negotiated down or forced on one end: check both ends' speed settings "
                "and the cable category / optic type",
                {"a": {"speed": a_row.get("speed")}, "b": {"speed": b_row.get("speed")}},
            )
        )
    return found


def neighbor_loss(link: dict[str, Any], with_facts: set[str]) -> list[Finding]:
    """A cable that is down, or that only one end still lists as a neighbour."""
    name = f"{link['a']} {link['a_interface']} ↔ {link['b']} {link['b_interface']}"
    if link["state"] == "down":
        return [
            Finding(
                "link_down",
                "critical",
                link["a"],
                name,
                "the link is down on at least one end",
                "check the interfaces' state and last flap on both ends, the cable and optics",
                {"seen_from": list(link["seen_from"])},
            )
        ]
    ends = {link["a"], link["b"]}
    silent = sorted((ends & with_facts) - set(link["seen_from"]))
    if silent:
        other = next(iter(ends - set(silent)), link["a"])
        return [
            Finding(
                "neighbor_loss",
                "warning",
                silent[0],
                name,
                f"{other} still lists {silent[0]} as its neighbour, {silent[0]} no longer lists "
                f"{other}",
                "the neighbour was lost on one side: the far interface went down, LLDP/CDP was "
                "turned off there, or the cable was moved",
                {"seen_from": list(link["seen_from"])},
            )
        ]
    return []
