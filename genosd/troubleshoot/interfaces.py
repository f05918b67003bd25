"""Interface error and discard diagnosis from a device's parsed `show interfaces` and its rates.

Counters in `show interfaces` count since they were last cleared; rates (per second, from the
SNMP polls) say what happens now. Either is evidence; the explanation follows the usual order of
a network engineer's reasoning: CRC errors are frames damaged on the wire (cabling, optics, a
duplex mismatch), runts and late collisions point at duplex, giants at MTU, overruns and ignored
frames at an interface that cannot keep up, drops without errors at congestion or policing.
"""

from __future__ import annotations

import re
from typing import Any

from genosd.troubleshoot.findings import Finding

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)", re.I)
_SPEED_UNIT = {"": 1, "k": 0.001, "m": 1, "g": 1000, "t": 1_000_000}


def duplex_of(row: dict[str, Any]) -> str | None:
    """full, half or auto from a platform's duplex text (`Full Duplex`, `half-duplex`, `a-full`)."""
    text = str(row.get("duplex") or "").lower()
    if "half" in text:
        return "half"
    if "full" in text:
        return "full"
    return "auto" if "auto" in text else None


def speed_of(row: dict[str, Any]) -> int | None:
    """Speed in Mb/s from `1Gbps`, `1000 Mb/s`, `100Mb/s`, `10G`; None for auto or unknown."""
    text = str(row.get("speed") or "").strip()
    match = _NUMBER.match(text)
    if not match or ("auto" in text.lower() and not match.group(1)):
        return None
    unit = match.group(2).lower()
    return int(float(match.group(1)) * _SPEED_UNIT.get(unit, 1))


def counter(row: dict[str, Any], *names: str) -> int:
    """The first of `names` that holds a number (TextFSM gives text; empty means absent)."""
    for name in names:
        value = row.get(name)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
    return 0


def counters(row: dict[str, Any]) -> dict[str, int]:
    """The error and drop counters of one interface row, under one set of names."""
    return {
        "input_errors": counter(row, "input_errors", "in_errors"),
        "crc": counter(row, "crc", "crc_errors", "stomped_crc"),
        "runts": counter(row, "runts", "short_frame"),
        "giants": counter(row, "giants", "rx_jumbo_errors"),
        "frame": counter(row, "frame", "alignment_errors"),
        "overrun": counter(row, "overrun", "no_buffer") + counter(row, "ignored"),
        "input_drops": counter(row, "queue_drops", "input_discards", "in_discards"),
        "output_errors": counter(row, "output_errors", "out_errors"),
        "output_drops": counter(row, "queue_output_drops", "output_discards", "out_discards"),
        "collisions": counter(row, "collisions"),
        "late_collisions": counter(row, "late_collisions", "late_collision"),
    }


def diagnose(
    device: str, interface: str, row: dict[str, Any] | None, rates: dict[str, Any] | None
) -> list[Finding]:
    """The problems of one interface, explained (nothing when it is clean)."""
    found: list[Finding] = []
    c = counters(row or {})
    r = {k: float(v) for k, v in (rates or {}).items() if isinstance(v, int | float)}
    in_err, out_err = r.get("in_errors_rate", 0.0), r.get("out_errors_rate", 0.0)
    in_drop, out_drop = r.get("in_discards_rate", 0.0), r.get("out_discards_rate", 0.0)
    utilisation = max(r.get("in_utilization", 0.0), r.get("out_utilization", 0.0))
    evidence = {"counters": {k: v for k, v in c.items() if v}, "rates": r}
    if c["crc"] or (in_err and c["input_errors"] and c["crc"] >= c["input_errors"] / 2):
        share = c["crc"] / c["input_errors"] if c["input_errors"] else 1.0
        found.append(
            Finding(
                "interface_errors",
                "critical" if in_err > 1 else "warning",
                device,
                interface,
                f"{c['crc']} CRC errors ({share:.0%} of input errors)"
                + (f", {in_err:g} input errors/s now" if in_err else ""),
                "frames arrive damaged: check the cable, patch panel and optics (levels, dirty "
                "fibre), then the far end's duplex and speed",
                evidence,
            )
        )
    elif c["input_errors"] or in_err:
        causes = []
        if c["runts"]:
            causes.append(f"{c['runts']} runts (collisions: a duplex mismatch)")
        if c["giants"]:
            causes.append(f"{c['giants']} giants (the far end sends frames over this MTU)")
        if c["overrun"]:
            causes.append(f"{c['overrun']} overruns/ignored (the interface cannot keep up)")
        if c["frame"]:
            causes.append(f"{c['frame']} framing errors (bad cable or a duplex mismatch)")
        found.append(
            Finding(
                "interface_errors",
                "warning",
                device,
                interface,
                f"{c['input_errors']} input errors"
                + (f", {in_err:g}/s now" if in_err else "")
                + (": " + "; ".join(causes) if causes else " without CRC errors"),
                "errors without CRC are not the wire: look at MTU (giants), duplex (runts) and "
                "load (overruns)",
                evidence,
            )
        )
    if c["late_collisions"] or (duplex_of(row or {}) == "half" and c["collisions"]):
        found.append(
            Finding(
                "duplex",
                "critical",
                device,
                interface,
                f"{c['late_collisions']} late collisions, {c['collisions']} collisions"
                f" (duplex {duplex_of(row or {}) or 'unknown'})",
                "late collisions happen on the half-duplex end of a duplex mismatch: set both "
                "ends to the same duplex (auto on both, or full on both)",
                evidence,
            )
        )
    if c["output_errors"] or out_err:
        found.append(
            Finding(
                "interface_errors",
                "warning",
                device,
                interface,
                f"{c['output_errors']} output errors" + (f", {out_err:g}/s now" if out_err else ""),
                "output errors are usually collisions (duplex) or a failing transceiver",
                evidence,
            )
        )
    if (in_drop or out_drop or c["input_drops"] or c["output_drops"]) and not (
        c["input_errors"] or in_err
    ):
        busy = utilisation >= 80
        found.append(
            Finding(
                "discards",
                "warning" if busy or in_drop or out_drop else "info",
                device,
                interface,
                f"drops without errors: {c['input_drops']} in, {c['output_drops']} out"
                + (f" ({in_drop:g}/{out_drop:g} per s now)" if in_drop or out_drop else "")
                + (f", utilisation {utilisation:.0f}%" if utilisation else ""),
                "queues overflow: congestion"
                + (" (the link is busy)" if busy else " in bursts the averages hide, or a policer")
                + "; look at QoS drops and micro-bursts, or add capacity",
                evidence,
            )
        )
    return found
