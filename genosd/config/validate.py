"""Layered validation of a config: structure, compliance rules, then (optionally) an LLM review."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from genosd.config.findings import Finding, LlmStatus, SeverityName, blocking
from genosd.config.remediation import unowned_lines
from genosd.config.rules import RuleSet
from genosd.config.secrets import Masker
from genosd.config.structure import check_structure
from genosd.config.waivers import Waiver, apply_waivers
from genosd.inventory import Device
from genosd.llm import LlmLayer, LlmUnavailable
from genosd.llm.prompts import PromptBook


@dataclass
class ValidationReport:
    """Every finding for one config, the compliance score and the LLM review's outcome."""

    device: str
    findings: list[Finding]
    rules_applied: int
    rules_passed: int
    llm: LlmStatus = "not configured"
    llm_error: str | None = None
    llm_prompt: str | None = None  # which prompt version the review used
    notes: list[str] = field(default_factory=list)

    @property
    def rules_waived(self) -> int:
        """Rules that failed only with waived findings: neither passed nor counted as failed."""
        waived = {f.rule for f in self.findings if f.layer == "rules" and f.waiver is not None}
        failing = {f.rule for f in self.findings if f.layer == "rules" and f.waiver is None}
        return len(waived - failing)

    @property
    def score(self) -> float:
        """Percentage of applicable, not waived compliance rules passed (100 when none apply)."""
        considered = self.rules_applied - self.rules_waived
        if considered <= 0:
            return 100.0
        return round(100.0 * self.rules_passed / considered, 1)

    @property
    def blocking(self) -> list[Finding]:
        """Findings that stop an approval."""
        return blocking(self.findings)


def validate_config(
    device: Device,
    masker: Masker,
    features: list[str],
    text: str,
    rules: RuleSet,
    waivers: Sequence[Waiver] = (),
) -> ValidationReport:
    """Structure and rule findings for a config (the fast, deterministic layers)."""
    platform = masker.platform
    findings = check_structure(platform, text)
    for number, line in unowned_lines(platform, features, text):
        findings.append(
            Finding(
                layer="structure",
                rule="unowned-line",
                severity="minor",
                line=number,
                text=line,
                message="no feature owns this line, so it is never "
                "deployed (add its prefix to the platform's features)",
            )
        )
    report = check_rules(device, masker, text, rules, waivers)
    report.findings[:0] = _masked(masker, findings)
    return report


def report_data(report: ValidationReport) -> dict[str, Any]:
    """A report as JSON data (sent between cluster nodes)."""
    return {
        "device": report.device,
        "findings": [f.model_dump(mode="json") for f in report.findings],
        "rules_applied": report.rules_applied,
        "rules_passed": report.rules_passed,
        "notes": list(report.notes),
    }


def report_from(data: dict[str, Any]) -> ValidationReport:
    """A report from `report_data`; ValueError (pydantic's) or KeyError when it is not one."""
    return ValidationReport(
        str(data["device"]),
        [Finding.model_validate(f) for f in data["findings"]],
        int(data["rules_applied"]),
        int(data["rules_passed"]),
        notes=[str(n) for n in data.get("notes", [])],
    )


def check_rules(
    device: Device, masker: Masker, text: str, rules: RuleSet, waivers: Sequence[Waiver] = ()
) -> ValidationReport:
    """Compliance rules only (for running configs, which need no structure check); findings a
    waiver in force accepts are marked with it."""
    findings, applied, passed = rules.check(device, text)
    apply_waivers(findings, device, list(waivers), time.time())
    return ValidationReport(device.name, _masked(masker, findings), applied, passed)


def _masked(masker: Masker, findings: list[Finding]) -> list[Finding]:
    for finding in findings:  # a finding quotes its line, its message a section: never a secret
        if finding.text is not None:
            finding.text = masker.lines([finding.text])[0]
        finding.message = masker.free_text(finding.message)
    return findings


class LlmFinding(BaseModel):
    """One problem the model reports (its answer is validated against this)."""

    severity: SeverityName
    rule: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: str = Field(min_length=1, max_length=500)
    line: int | None = Field(None, ge=1)


class LlmReview(BaseModel):
    """The whole answer: a list of findings (empty when the config looks right)."""

    findings: list[LlmFinding] = Field(max_length=100)


async def llm_review(
    report: ValidationReport,
    llm: LlmLayer | None,
    masker: Masker,
    text: str,
    prompts: PromptBook | None = None,
) -> ValidationReport:
    """Add the LLM's findings; an unusable answer is a finding and status 'unavailable', never a
    pass. The prompt is config-review's active version in the prompt library (else built-in)."""
    if llm is None or not llm.configured:
        report.llm = "not configured"
        return report
    lines = masker.text(text).text.splitlines()
    numbered = "\n".join(f"{n}: {line}" for n, line in enumerate(lines, start=1))
    variables = {"platform": masker.platform.name, "device": report.device, "config": numbered}
    prompt = await (prompts or PromptBook()).resolve("config-review", variables)
    report.llm_prompt = prompt.origin
    report.notes.extend(prompt.notes)
    try:
        answer, _ = await llm.structured(prompt.kind, prompt.messages, LlmReview)
    except LlmUnavailable as exc:
        report.llm, report.llm_error = "unavailable", str(exc)
        report.findings.append(
            Finding(
                layer="llm",
                rule="llm-unavailable",
                severity="major",
                message=f"LLM review unavailable: {exc}",
            )
        )
        return report
    for item in answer.findings:
        line = item.line if item.line is not None and item.line <= len(lines) else None
        if item.line is not None and line is None:
            report.notes.append(f"LLM finding {item.rule} named line {item.line}, past the end")
        report.findings.append(
            Finding(
                layer="llm",
                rule=f"llm:{item.rule}",
                severity=item.severity,
                line=line,
                text=lines[line - 1] if line else None,
                message=item.message,
            )
        )
    report.llm = "findings" if answer.findings else "passed"
    return report
