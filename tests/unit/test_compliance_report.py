"""The compliance report: what changed since the previous backup, waived findings, fleet totals,
and its CSV and HTML forms."""

from __future__ import annotations

import csv
import io

from genosd.config.compliance import ComplianceRecord
from genosd.config.findings import Finding
from genosd.config.report import build_report, report_csv, report_html


def _finding(rule: str, severity: str = "major", waiver: int | None = None) -> Finding:
    return Finding(layer="rules", rule=rule, severity=severity, message=rule, waiver=waiver)


def _record(device: str, at: float, score: float, findings: list[Finding], source: str = "running"):
    return ComplianceRecord(
        device=device,
        checked_at=at,
        source=source,
        score=score,
        rules_applied=10,
        rules_passed=10 - len(findings),
        findings=findings,
    )


RECORDS = [
    _record("r1", 100.0, 80.0, [_finding("ntp"), _finding("banner", "minor")]),
    _record("r1", 200.0, 80.0, [_finding("ntp"), _finding("telnet", "critical")]),
    _record("r1", 150.0, 90.0, [_finding("ntp")], source="intended"),
    _record("<b>x</b>", 200.0, 90.0, [_finding("snmp-acl", waiver=3), _finding("ntp")]),
    _record("r3", 50.0, 100.0, []),
]


def test_newly_failing_fixed_waived_and_fleet_totals():
    report = build_report(RECORDS, ["r1", "<b>x</b>", "r3", "never-checked"])
    by_name = {item.device: item for item in report.items}
    r1 = by_name["r1"]
    assert (r1.score, r1.intended_score) == (80.0, 90.0)
    assert r1.newly_failing == ["telnet"] and r1.fixed == ["banner"]
    assert r1.findings == {"critical": 1, "major": 1, "minor": 0, "info": 0}
    assert r1.history == [(100.0, 80.0), (200.0, 80.0)]
    assert by_name["<b>x</b>"].waived == 1 and by_name["<b>x</b>"].failing_rules == ["ntp"]
    assert by_name["never-checked"].score is None
    assert (report.devices, report.checked, report.below_100) == (4, 3, 2)
    assert report.average_score == round((80 + 90 + 100) / 3, 1)
    ntp = next(rule for rule in report.rules if rule.rule == "ntp")
    acl = next(rule for rule in report.rules if rule.rule == "snmp-acl")
    assert (ntp.devices, acl.devices, acl.waived) == (2, 0, 1)
    assert report.items[0].device == "r1"  # worst first


def test_csv_and_html_forms():
    report = build_report(RECORDS, ["r1", "<b>x</b>"])
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [row["device"] for row in rows] == ["r1", "<b>x</b>"]
    assert rows[0]["critical"] == "1" and rows[0]["newly_failing"] == "telnet"
    html = report_html(report)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # every value escaped
    assert "telnet" in html and "80.0 → 80.0" in html
