"""Compliance waivers: a rule's findings accepted for a device, a group or every device, for a time.

A waiver names the rule, where it applies, why, who owns the exception and when it expires (at
most a year ahead). Waived findings stay in every report, marked with their waiver: they are not
passes, and they do not block a deploy. An expired or revoked waiver no longer applies. Adding and
revoking are audited.
"""

from __future__ import annotations

import sqlite3
import time

from pydantic import BaseModel, Field, model_validator

from genosd import audit
from genosd.config.findings import Finding
from genosd.errors import InvalidRequestError, NotFoundError
from genosd.inventory import Device
from genosd.statedb import transaction

MAX_DAYS = 366
_COLUMNS = (
    "id, rule, device, grp, reason, owner, created_by, created_at, expires_at, revoked_by, "
    "revoked_at"
)


class Waiver(BaseModel):
    """One accepted exception to a compliance rule."""

    id: int
    rule: str
    device: str | None = None  # exactly one of device and group, or neither (every device)
    group: str | None = None
    reason: str
    owner: str
    created_by: str
    created_at: float
    expires_at: float
    revoked_by: str | None = None
    revoked_at: float | None = None

    def active(self, now: float) -> bool:
        """Whether the waiver applies at `now`."""
        return self.revoked_at is None and now < self.expires_at

    def covers(self, device: Device) -> bool:
        """Whether the waiver is about this device."""
        if self.device is not None:
            return device.name == self.device
        if self.group is not None:
            return self.group in device.groups
        return True


class WaiverRequest(BaseModel):
    """What a new waiver says (checked before anything is stored)."""

    rule: str = Field(min_length=1, max_length=64)
    device: str | None = Field(None, min_length=1, max_length=200)
    group: str | None = Field(None, min_length=1, max_length=200)
    reason: str = Field(min_length=10, max_length=1000, description="why the finding is accepted")
    owner: str = Field(min_length=1, max_length=200, description="who answers for the exception")
    expires_at: float = Field(description="unix time; at most a year ahead")

    @model_validator(mode="after")
    def _scope(self) -> WaiverRequest:
        if self.device is not None and self.group is not None:
            raise ValueError("give a device or a group, not both (neither: every device)")
        return self


def _row(row: tuple) -> Waiver:
    names = [c.strip() for c in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["group"] = values.pop("grp")
    return Waiver.model_validate(values)


def add_waiver(
    db: sqlite3.Connection, request: WaiverRequest, known_rules: set[str], actor: str
) -> Waiver:
    """Store and audit a waiver; InvalidRequestError for an unknown rule or a bad expiry."""
    now = time.time()
    if request.rule not in known_rules:
        raise InvalidRequestError(f"no compliance rule {request.rule!r} is loaded")
    if not now < request.expires_at <= now + MAX_DAYS * 86400:
        raise InvalidRequestError(
            f"a waiver expires in the future and within {MAX_DAYS} days; renew it then"
        )
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO waivers (rule, device, grp, reason, owner, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.rule,
                request.device,
                request.group,
                request.reason,
                request.owner,
                actor,
                now,
                request.expires_at,
            ),
        )
        waiver_id = int(cursor.lastrowid or 0)
        audit.record(
            db,
            actor=actor,
            action="add_waiver",
            target=_target(request.device, request.group),
            details={
                "waiver": waiver_id,
                "rule": request.rule,
                "reason": request.reason,
                "owner": request.owner,
                "expires_at": request.expires_at,
            },
        )
    return get_waiver(db, waiver_id)


def revoke_waiver(db: sqlite3.Connection, waiver_id: int, actor: str) -> Waiver:
    """End a waiver now (audited); NotFoundError for an unknown one."""
    waiver = get_waiver(db, waiver_id)
    if waiver.revoked_at is not None:
        return waiver
    with transaction(db):
        db.execute(
            "UPDATE waivers SET revoked_by = ?, revoked_at = ? WHERE id = ?",
            (actor, time.time(), waiver_id),
        )
        audit.record(
            db,
            actor=actor,
            action="revoke_waiver",
            target=_target(waiver.device, waiver.group),
            details={"waiver": waiver_id, "rule": waiver.rule},
        )
    return get_waiver(db, waiver_id)


def get_waiver(db: sqlite3.Connection, waiver_id: int) -> Waiver:
    """One waiver; NotFoundError when there is none with that id."""
    row = db.execute(f"SELECT {_COLUMNS} FROM waivers WHERE id = ?", (waiver_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no waiver {waiver_id}")
    return _row(row)


def list_waivers(db: sqlite3.Connection, *, active_only: bool = True) -> list[Waiver]:
    """Waivers, newest first (only those in force unless `active_only` is off)."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM waivers ORDER BY id DESC").fetchall()
    waivers = [_row(row) for row in rows]
    now = time.time()
    return [w for w in waivers if w.active(now)] if active_only else waivers


def apply_waivers(
    findings: list[Finding], device: Device, waivers: list[Waiver], now: float
) -> list[Finding]:
    """The findings, those a waiver in force covers marked with it (the first that matches)."""
    relevant = [w for w in waivers if w.active(now) and w.covers(device)]
    for finding in findings:
        waiver = next((w for w in relevant if w.rule == finding.rule), None)
        if waiver is not None:
            finding.waiver = waiver.id
            finding.waived_until = waiver.expires_at
    return findings


def _target(device: str | None, group: str | None) -> str:
    if device is not None:
        return f"device:{device}"
    return f"group:{group}" if group is not None else "devices:all"
