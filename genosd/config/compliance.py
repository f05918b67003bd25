"""Compliance history: each rule check of a device's running or intended config, with its score."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from pydantic import BaseModel

from genosd.config.findings import Finding
from genosd.statedb import transaction


def record_compliance(
    db: sqlite3.Connection,
    device: str,
    source: str,
    score: float,
    applied: int,
    passed: int,
    findings: list[Finding],
) -> None:
    """Append one compliance result to the device's history."""
    with transaction(db):
        db.execute(
            "INSERT INTO compliance (device, checked_at, source, score, rules_applied, "
            "rules_passed, findings) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                device,
                time.time(),
                source,
                score,
                applied,
                passed,
                json.dumps([f.model_dump() for f in findings]),
            ),
        )


class ComplianceRecord(BaseModel):
    """One compliance check of one device."""

    device: str
    checked_at: float
    source: str
    score: float
    rules_applied: int
    rules_passed: int
    findings: list[Finding]


def compliance_history(
    db: sqlite3.Connection, device: str | None = None, *, latest_only: bool = False
) -> list[ComplianceRecord]:
    """Compliance results, newest first (latest_only: the newest per device)."""
    query = (
        "SELECT device, checked_at, source, score, rules_applied, rules_passed, findings "
        "FROM compliance"
    )
    args: list[Any] = []
    where = []
    if device is not None:
        where.append("device = ?")
        args.append(device)
    if latest_only:
        where.append("id IN (SELECT MAX(id) FROM compliance GROUP BY device)")
    if where:
        query += " WHERE " + " AND ".join(where)
    rows = db.execute(query + " ORDER BY id DESC", args).fetchall()
    return [
        ComplianceRecord(
            device=r[0],
            checked_at=r[1],
            source=r[2],
            score=r[3],
            rules_applied=r[4],
            rules_passed=r[5],
            findings=json.loads(r[6]),
        )
        for r in rows
    ]
