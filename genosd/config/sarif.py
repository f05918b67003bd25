"""Findings as SARIF 2.1.0, the format CI systems (GitHub, GitLab, Azure DevOps) show inline."""

from __future__ import annotations

from typing import Any

from genosd.config.findings import Finding
from genosd.config.rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"critical": "error", "major": "error", "minor": "warning", "info": "note"}


def sarif_report(
    results: list[tuple[str, list[Finding]]], rules: list[Rule], version: str
) -> dict[str, Any]:
    """One SARIF run: (file path, findings) per validated file, and the rules that were applied."""
    by_id = {rule.id: rule for rule in rules}
    used = sorted({f.rule for _, findings in results for f in findings})
    descriptors = [_descriptor(by_id.get(rule_id), rule_id) for rule_id in used]
    index = {rule_id: n for n, rule_id in enumerate(used)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "genosd",
                        "version": version,
                        "rules": descriptors,
                    }
                },
                "results": [
                    _result(path, finding, index[finding.rule])
                    for path, findings in results
                    for finding in findings
                ],
            }
        ],
    }


def _descriptor(rule: Rule | None, rule_id: str) -> dict[str, Any]:
    if rule is None:  # a finding of the structure or LLM layer
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "shortDescription": {"text": rule.description or rule.id},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"severity": rule.severity, "tags": list(rule.references)},
    }
    if rule.rationale:
        descriptor["fullDescription"] = {"text": rule.rationale}
    if rule.remediation:
        descriptor["help"] = {"text": rule.remediation}
    return descriptor


def _result(path: str, finding: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": path}}
    if finding.line is not None:
        location["region"] = {"startLine": finding.line}
        if finding.text:
            location["region"]["snippet"] = {"text": finding.text}
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": location}],
    }
