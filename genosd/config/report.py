"""Compliance reports: the fleet and each device, from the compliance history, as JSON, CSV or HTML.

Per device: the newest running-config score (and intended), findings by severity, waived findings,
the rules failing now, those newly failing since the previous backup and those fixed, and the
score history. For the fleet: averages, devices below 100, and per rule how many devices fail it.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter

from jinja2 import Environment
from pydantic import BaseModel

from genosd.config.compliance import ComplianceRecord

SEVERITIES = ("critical", "major", "minor", "info")


class DeviceCompliance(BaseModel):
    """One device's compliance, from its newest running-config check."""

    device: str
    score: float | None = None  # None: never checked
    checked_at: float | None = None
    intended_score: float | None = None
    rules_applied: int = 0
    rules_passed: int = 0
    findings: dict[str, int] = {}  # by severity, waived ones left out
    waived: int = 0
    failing_rules: list[str] = []
    newly_failing: list[str] = []  # failing now, passing at the previous backup
    fixed: list[str] = []  # failing at the previous backup, passing now
    history: list[tuple[float, float]] = []  # (checked_at, score), oldest first


class RuleSummary(BaseModel):
    """How many devices one rule fails on."""

    rule: str
    severity: str
    devices: int
    waived: int


class FleetCompliance(BaseModel):
    """The whole report."""

    generated_at: float
    devices: int
    checked: int
    average_score: float | None
    below_100: int
    findings: dict[str, int]
    rules: list[RuleSummary]
    items: list[DeviceCompliance]


def build_report(
    records: list[ComplianceRecord], devices: list[str], *, history: int = 30
) -> FleetCompliance:
    """The report of `devices` from their compliance records (any order)."""
    by_device: dict[str, list[ComplianceRecord]] = {name: [] for name in devices}
    for record in sorted(records, key=lambda r: r.checked_at):
        if record.device in by_device:
            by_device[record.device].append(record)
    items = [_device(name, found, history) for name, found in by_device.items()]
    checked = [item for item in items if item.score is not None]
    rules: dict[str, RuleSummary] = {}
    for found in by_device.values():
        running = [r for r in found if r.source == "running"]
        if not running:
            continue
        for finding in running[-1].findings:
            summary = rules.setdefault(
                finding.rule,
                RuleSummary(rule=finding.rule, severity=finding.severity, devices=0, waived=0),
            )
            if finding.waiver is not None:
                summary.waived += 1
            else:
                summary.devices += 1
    totals: Counter[str] = Counter()
    for item in checked:
        totals.update(item.findings)
    scores = [item.score for item in checked if item.score is not None]
    return FleetCompliance(
        generated_at=time.time(),
        devices=len(items),
        checked=len(checked),
        average_score=round(sum(scores) / len(scores), 1) if scores else None,
        below_100=sum(1 for score in scores if score < 100),
        findings={severity: totals.get(severity, 0) for severity in SEVERITIES},
        rules=sorted(rules.values(), key=lambda s: (-s.devices, s.rule)),
        items=sorted(items, key=lambda i: (i.score if i.score is not None else 101, i.device)),
    )


def _device(name: str, records: list[ComplianceRecord], history: int) -> DeviceCompliance:
    running = [r for r in records if r.source == "running"]
    intended = [r for r in records if r.source == "intended"]
    item = DeviceCompliance(device=name)
    if intended:
        item.intended_score = intended[-1].score
    if not running:
        return item
    newest = running[-1]
    open_findings = [f for f in newest.findings if f.waiver is None]
    failing = sorted({f.rule for f in open_findings})
    before = (
        sorted({f.rule for f in running[-2].findings if f.waiver is None})
        if len(running) > 1
        else []
    )
    item.score, item.checked_at = newest.score, newest.checked_at
    item.rules_applied, item.rules_passed = newest.rules_applied, newest.rules_passed
    counts: Counter[str] = Counter(f.severity for f in open_findings)
    item.findings = {severity: counts.get(severity, 0) for severity in SEVERITIES}
    item.waived = len(newest.findings) - len(open_findings)
    item.failing_rules = failing
    item.newly_failing = [rule for rule in failing if len(running) > 1 and rule not in before]
    item.fixed = [rule for rule in before if rule not in failing]
    item.history = [(r.checked_at, r.score) for r in running[-history:]]
    return item


def report_csv(report: FleetCompliance) -> str:
    """One row per device."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["device", "score", "checked_at", *SEVERITIES, "waived", "intended_score"]
    writer.writerow([*header, "failing_rules", "newly_failing", "fixed"])
    for item in report.items:
        writer.writerow(
            [
                item.device,
                "" if item.score is None else item.score,
                "" if item.checked_at is None else _when(item.checked_at),
                *(item.findings.get(severity, 0) for severity in SEVERITIES),
                item.waived,
                "" if item.intended_score is None else item.intended_score,
                " ".join(item.failing_rules),
                " ".join(item.newly_failing),
                " ".join(item.fixed),
            ]
        )
    return out.getvalue()


_HTML = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genosd compliance report</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}.new{color:#b00020}
</style></head><body>
<h1>Compliance report</h1>
<p>Generated {{ when(report.generated_at) }}. {{ report.checked }} of {{ report.devices }} devices
checked; average score {{ report.average_score if report.average_score is not none else "n/a" }};
{{ report.below_100 }} below 100.
Open findings: {% for s, n in report.findings.items() %}{{ s }} {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<h2>Devices</h2>
<table><tr><th>device</th><th>score</th><th>checked</th><th>critical</th><th>major</th>
<th>minor</th><th>info</th><th>waived</th><th>newly failing</th><th>fixed</th><th>history</th></tr>
{% for d in report.items %}<tr>
<td>{{ d.device }}</td>
<td class="{{ 'ok' if d.score == 100 else 'bad' if d.score is not none else '' }}">{{ d.score if d.score is not none else "not checked" }}</td>
<td>{{ when(d.checked_at) if d.checked_at else "" }}</td>
{% for s in severities %}<td>{{ d.findings.get(s, 0) }}</td>{% endfor %}
<td>{{ d.waived }}</td><td class="new">{{ d.newly_failing | join(", ") }}</td>
<td>{{ d.fixed | join(", ") }}</td>
<td>{{ d.history | map(attribute=1) | join(" → ") }}</td>
</tr>{% endfor %}</table>
<h2>Rules failing</h2>
<table><tr><th>rule</th><th>severity</th><th>devices</th><th>waived</th></tr>
{% for r in report.rules %}<tr><td>{{ r.rule }}</td><td>{{ r.severity }}</td>
<td>{{ r.devices }}</td><td>{{ r.waived }}</td></tr>{% endfor %}</table>
</body></html>
"""
)


def report_html(report: FleetCompliance) -> str:
    """A self-contained HTML page (every value escaped)."""
    return _HTML.render(report=report, severities=SEVERITIES, when=_when)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))
