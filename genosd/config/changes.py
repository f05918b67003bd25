"""Planned config changes and their approvals, bound to the SHA-256 of the exact commands.

A plan (dry run) records a change as `pending`. A human approves it by naming the hash they saw;
the deploy recomputes the commands from the live device and refuses if the hash differs. A change
is used once: it ends `deployed`, `failed`, `rolled_back`, `stale` (the diff changed) or `rejected`.
Stored texts are the masked (display) form; the real commands are recomputed at deploy time.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Literal

from pydantic import BaseModel, computed_field

from genosd import audit
from genosd.config.findings import Finding, LlmStatus, blocking
from genosd.config.secrets import diff_changed_secrets
from genosd.errors import ConflictError, GenosdError, InvalidRequestError, NotFoundError
from genosd.statedb import transaction

ChangeStatus = Literal[
    "pending", "approved", "deploying", "deployed", "failed", "rolled_back", "stale", "rejected"
]
ChangeKind = Literal["render", "restore"]


class Change(BaseModel):
    """One planned change as stored."""

    id: int
    device: str
    kind: ChangeKind
    sha256: str
    commands: list[str]
    rollback: list[str]
    diff: list[str]
    findings: list[Finding]
    llm: LlmStatus
    created_at: float
    created_by: str
    expires_at: float
    status: ChangeStatus
    approved_by: str | None = None
    approved_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    source: str | None = None  # a restore: the stored version it brings back
    features: list[str] | None = None  # the features the change covers (None: all rendered)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed_secrets(self) -> list[str]:
        """Diff lines whose only difference is a secret (shown masked): rotated secrets."""
        return diff_changed_secrets(self.diff)

    @property
    def expired(self) -> bool:
        """Whether the approval window has passed."""
        return time.time() >= self.expires_at


_COLUMNS = (
    "id, device, kind, sha256, commands, rollback, diff, findings, llm, created_at, created_by, "
    "expires_at, status, approved_by, approved_at, finished_at, result, source, features"
)


def _row(row: tuple) -> Change:
    names = [c.strip() for c in _COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    for name in ("commands", "rollback", "diff", "findings"):
        values[name] = json.loads(values[name])
    values["result"] = json.loads(values["result"]) if values["result"] else None
    values["features"] = json.loads(values["features"]) if values["features"] else None
    return Change.model_validate(values)


def create_change(
    db: sqlite3.Connection,
    *,
    device: str,
    kind: ChangeKind,
    sha256: str,
    commands: list[str],
    rollback: list[str],
    diff: list[str],
    findings: list[Finding],
    actor: str,
    ttl: float,
    llm: LlmStatus = "not configured",
    source: str | None = None,
    features: list[str] | None = None,
) -> Change:
    """Record a planned change (pending approval) and audit it, in one transaction."""
    now = time.time()
    with transaction(db):
        cursor = db.execute(
            f"INSERT INTO changes ({_COLUMNS.split(', ', 1)[1]}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, NULL, ?, ?)",
            (
                device,
                kind,
                sha256,
                json.dumps(commands),
                json.dumps(rollback),
                json.dumps(diff),
                json.dumps([f.model_dump() for f in findings]),
                llm,
                now,
                actor,
                now + ttl,
                source,
                json.dumps(features) if features is not None else None,
            ),
        )
        change_id = int(cursor.lastrowid or 0)
        audit.record(
            db,
            actor=actor,
            action="plan_config_change",
            target=f"device:{device}",
            diff_hash=sha256,
            details={
                "change": change_id,
                "kind": kind,
                "commands": len(commands),
                "source": source,
                "features": features,
            },
        )
    return get_change(db, change_id)


def get_change(db: sqlite3.Connection, change_id: int) -> Change:
    """A change by id; NotFoundError if there is none."""
    row = db.execute(f"SELECT {_COLUMNS} FROM changes WHERE id = ?", (change_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no change {change_id}")
    return _row(row)


def list_changes(
    db: sqlite3.Connection, *, device: str | None = None, status: str | None = None
) -> list[Change]:
    """Changes, newest first, optionally for one device or in one status."""
    query = f"SELECT {_COLUMNS} FROM changes WHERE 1=1"
    args: list[Any] = []
    if device is not None:
        query, args = query + " AND device = ?", [*args, device]
    if status is not None:
        query, args = query + " AND status = ?", [*args, status]
    return [_row(r) for r in db.execute(query + " ORDER BY id DESC", args).fetchall()]


def _refusal(
    change: Change, *, sha256: str, actor: str, four_eyes: bool, require_llm: bool
) -> GenosdError | None:
    """Why `actor` may not approve `change` with `sha256`, or None."""
    if four_eyes and actor == change.created_by:
        return ConflictError(f"change {change.id}: the planner cannot approve it (four_eyes)")
    if change.status != "pending":
        return ConflictError(f"change {change.id} is {change.status}, not pending")
    if change.expired:
        return ConflictError(f"change {change.id} expired; plan it again")
    if sha256 != change.sha256:
        return InvalidRequestError(
            f"change {change.id}: the hash given does not match the planned diff "
            f"({change.sha256[:12]}…); review the diff again"
        )
    if require_llm and change.kind == "render" and change.llm not in ("passed", "findings"):
        return ConflictError(
            f"change {change.id}: the LLM review is {change.llm} and "
            "configs.require_llm_review is set; plan it again"
        )
    if blocking(change.findings):
        return ConflictError(f"change {change.id} has critical findings and cannot be approved")
    return None


def approve_change(
    db: sqlite3.Connection,
    change_id: int,
    *,
    sha256: str,
    actor: str,
    four_eyes: bool = False,
    require_llm: bool = False,
) -> Change:
    """Approve a pending change; the caller must name the hash it reviewed.

    A refusal is audited as `denied` in a transaction of its own, so the entry survives the error.
    """
    [change] = approve_changes(
        db, [(change_id, sha256)], actor=actor, four_eyes=four_eyes, require_llm=require_llm
    )
    return change


def approve_changes(
    db: sqlite3.Connection,
    approvals: list[tuple[int, str]],
    *,
    actor: str,
    four_eyes: bool = False,
    require_llm: bool = False,
) -> list[Change]:
    """Approve several pending changes (id, reviewed hash) all or none: the first refusal is
    audited as `denied` (in a transaction of its own) and raised, and no change is approved."""
    with transaction(db):
        found = [(get_change(db, change_id), sha256) for change_id, sha256 in approvals]
        refused = None
        for change, sha256 in found:
            refusal = _refusal(
                change, sha256=sha256, actor=actor, four_eyes=four_eyes, require_llm=require_llm
            )
            if refusal is not None:
                refused = (change, sha256, refusal)
                break
        if refused is None:
            for change, _ in found:
                db.execute(
                    "UPDATE changes SET status = 'approved', approved_by = ?, approved_at = ? "
                    "WHERE id = ?",
                    (actor, time.time(), change.id),
                )
                audit.record(
                    db,
                    actor=actor,
                    action="approve_config_change",
                    target=f"device:{change.device}",
                    diff_hash=change.sha256,
                    details={"change": change.id},
                )
    if refused is not None:
        change, sha256, refusal = refused
        audit.record(
            db,
            actor=actor,
            action="approve_config_change",
            target=f"device:{change.device}",
            result="denied",
            diff_hash=sha256,
            details={"change": change.id, "reason": str(refusal)},
        )
        raise refusal
    return [get_change(db, change_id) for change_id, _ in approvals]


def approve_rollback(db: sqlite3.Connection, change_id: int, *, undoes: int, actor: str) -> Change:
    """Approve a pending restore that puts back the state before deployed change `undoes`.

    The approval of the change being undone covers it (an automatic rollback returns to the
    reviewed starting point); it is audited as such and needs no second human.
    """
    with transaction(db):
        change = get_change(db, change_id)
        undone = get_change(db, undoes)
        if change.kind != "restore" or change.status != "pending":
            raise ConflictError(f"change {change_id} is not a pending restore")
        if undone.device != change.device or undone.status != "deployed":
            raise ConflictError(f"change {undoes} is not a deployed change of {change.device}")
        db.execute(
            "UPDATE changes SET status = 'approved', approved_by = ?, approved_at = ? WHERE id = ?",
            (f"rollback of change {undoes}", time.time(), change_id),
        )
        audit.record(
            db,
            actor=actor,
            action="approve_config_rollback",
            target=f"device:{change.device}",
            diff_hash=change.sha256,
            details={"change": change_id, "undoes": undoes},
        )
    return get_change(db, change_id)


def reject_change(db: sqlite3.Connection, change_id: int, *, actor: str) -> Change:
    """Reject a pending or approved change so it can never be deployed."""
    with transaction(db):
        change = get_change(db, change_id)
        if change.status not in ("pending", "approved"):
            raise ConflictError(f"change {change_id} is {change.status}")
        db.execute(
            "UPDATE changes SET status = 'rejected', finished_at = ? WHERE id = ?",
            (time.time(), change_id),
        )
        audit.record(
            db,
            actor=actor,
            action="reject_config_change",
            target=f"device:{change.device}",
            diff_hash=change.sha256,
            details={"change": change_id},
        )
    return get_change(db, change_id)


def start_deploy(db: sqlite3.Connection, change_id: int, *, device: str | None = None) -> Change:
    """Claim an approved change for deploying (once); ConflictError otherwise."""
    with transaction(db):
        change = get_change(db, change_id)
        if device is not None and change.device != device:
            raise InvalidRequestError(f"change {change_id} is for {change.device}, not {device}")
        if change.status != "approved":
            raise ConflictError(f"change {change_id} is {change.status}, not approved")
        if change.expired:
            raise ConflictError(f"change {change_id} expired; plan it again")
        db.execute("UPDATE changes SET status = 'deploying' WHERE id = ?", (change_id,))
    return get_change(db, change_id)


def finish_change(
    db: sqlite3.Connection,
    change_id: int,
    status: ChangeStatus,
    result: dict[str, Any],
    *,
    actor: str,
    diff_hash: str,
) -> Change:
    """Record how a deploy ended and audit it."""
    with transaction(db):
        change = get_change(db, change_id)
        db.execute(
            "UPDATE changes SET status = ?, finished_at = ?, result = ? WHERE id = ?",
            (status, time.time(), json.dumps(result, default=str), change_id),
        )
        audit.record(
            db,
            actor=actor,
            action="deploy_config_change",
            target=f"device:{change.device}",
            result="ok" if status == "deployed" else "failed",
            diff_hash=diff_hash,
            details={"change": change_id, "status": status, "reason": result.get("reason")},
        )
    return get_change(db, change_id)
