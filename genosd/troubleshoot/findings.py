"""What a check found: one problem, on what, how bad, the evidence and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Finding:
    """One problem a check explains."""

    check: str  # interface_errors, duplex_mismatch, flapping, neighbor_loss, bgp, ospf, …
    severity: Severity
    device: str
    subject: str  # an interface, a peer, a link
    summary: str
    advice: str
    evidence: dict[str, Any] = field(default_factory=dict)


def worst_first(findings: list[Finding]) -> list[Finding]:
    """Critical first, then warnings, then information; stable within a level."""
    return sorted(findings, key=lambda f: -RANK[f.severity])
