"""Validation findings: what every validation layer (structure, rules, LLM) reports."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel


class Severity(IntEnum):
    """How bad a finding is; critical findings block a deploy."""

    info = 0
    minor = 1
    major = 2
    critical = 3


SeverityName = Literal["info", "minor", "major", "critical"]
Layer = Literal["structure", "rules", "llm", "restore"]
LlmStatus = Literal["not configured", "passed", "findings", "unavailable"]


class Finding(BaseModel):
    """One problem in a rendered config, with the rule and line it concerns."""

    layer: Layer
    rule: str
    severity: SeverityName
    message: str
    line: int | None = None
    text: str | None = None
    remediation: str | None = None  # a rule's fix, as config lines
    references: list[str] = []  # where a rule comes from (CIS, STIG ids)
    waiver: int | None = None  # the waiver that accepts this finding (still reported, not a pass)
    waived_until: float | None = None

    @property
    def level(self) -> Severity:
        """The severity as an orderable value."""
        return Severity[self.severity]


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings that stop a deploy (critical ones no waiver accepts)."""
    return [f for f in findings if f.level >= Severity.critical and f.waiver is None]
