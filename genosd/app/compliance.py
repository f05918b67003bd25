"""Keeping a validation's outcome: the compliance history, /metrics, and the metrics database."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from genosd.app.core import AppCore
from genosd.config.compliance import compliance_history, record_compliance
from genosd.config.report import FleetCompliance, build_report
from genosd.config.validate import ValidationReport
from genosd.config.waivers import Waiver, WaiverRequest, add_waiver, list_waivers, revoke_waiver
from genosd.metrics.model import Point

MEASUREMENT = "genosd_compliance"


async def record_report(core: AppCore, device: str, source: str, report: ValidationReport) -> None:
    """Keep a score in the compliance history, /metrics and, as a point, the metrics database."""
    await core.db.run(
        record_compliance,
        device,
        source,
        report.score,
        report.rules_applied,
        report.rules_passed,
        report.findings,
    )
    core.compliance[device] = report.score
    await core.points.commit([compliance_point(device, source, report, time.time_ns())])


def compliance_point(device: str, source: str, report: ValidationReport, time_ns: int) -> Point:
    """`genosd_compliance,device=…,source=running|intended score=…,…` for dashboards."""
    severities = Counter(finding.severity for finding in report.findings)
    fields: dict[str, float | int] = {
        "score": float(report.score),
        "rules_applied": report.rules_applied,
        "rules_passed": report.rules_passed,
        "findings": len(report.findings),
    }
    fields.update(
        {name: severities.get(name, 0) for name in ("critical", "major", "minor", "info")}
    )
    return Point(MEASUREMENT, {"device": device, "source": source}, dict(fields), time_ns)


async def fleet_report(core: AppCore, names: list[str] | None = None) -> FleetCompliance:
    """The compliance report of the selected devices (default: every device with a platform)."""
    if names is None:
        names = [device.name for device in core.inventory.select() if device.platform]
    records = await core.db.run(compliance_history)
    return build_report(records, names)


async def accept_finding(core: AppCore, request: WaiverRequest, actor: str) -> Waiver:
    """Add a waiver (InvalidRequestError unless its rule is among the loaded rules); audited."""
    known = await asyncio.to_thread(core.lifecycle.known_rules)  # loads the rule files once
    return await core.db.run(lambda db: add_waiver(db, request, known, actor))


async def end_waiver(core: AppCore, waiver_id: int, actor: str) -> Waiver:
    """Revoke a waiver now (NotFoundError for an unknown id); audited."""
    return await core.db.run(lambda db: revoke_waiver(db, waiver_id, actor))


async def waivers(core: AppCore, *, active_only: bool = True) -> list[Waiver]:
    """Waivers, newest first (only those in force unless `active_only` is off)."""
    return await core.db.run(lambda db: list_waivers(db, active_only=active_only))
