"""Deciding about runs that wait or stopped: approve or reject a gate, cancel, resume, and the
housekeeping that finds gates that timed out and runs whose process died.

Approving a gate approves the batch's planned changes all or none, bound to the gate's hash (the
hash of each device's change and diff hash); the planner (the run's actor) may not approve when
`configs.four_eyes` is set. The run is then claimed (exactly one approver or resumer gets it) and
handed back to the caller to go on with `finish_run`, in the daemon or in a CLI process.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from genosd import audit
from genosd.app.core import AppCore
from genosd.app.playbook_records import (
    RunRecord,
    claim_run,
    load_run,
    request_cancel,
    save_run,
    where,
)
from genosd.config import changes
from genosd.errors import ConflictError, InvalidRequestError
from genosd.processes import pid_alive
from genosd.statedb import transaction


def _audit(
    db: sqlite3.Connection, record: RunRecord, actor: str, action: str, **details: Any
) -> None:
    gate = record.gate or (record.gates[-1] if record.gates else None)
    audit.record(
        db,
        actor=actor,
        action=action,
        target=f"playbook:{record.playbook}",
        diff_hash=gate.sha256 if gate else None,
        details={"run": record.id, **details},
    )


async def approve(core: AppCore, run_id: int, actor: str, sha256: str | None) -> RunRecord:
    """Approve the gate run `run_id` waits at; the run, claimed, for `finish_run`.

    `sha256` must be the gate's hash when it approves changes (InvalidRequestError otherwise);
    ConflictError when the run does not wait, the gate expired, or four-eyes forbids it.
    """
    configs = core.settings.configs
    record = await core.db.run(load_run, run_id)
    gate = record.gate
    if record.status != "waiting_approval" or gate is None:
        raise ConflictError(f"playbook run {run_id} is {record.status}, not waiting for approval")
    if time.time() >= gate.expires_at:
        await core.db.run(expire_gates)
        raise ConflictError(f"playbook run {run_id}: the approval gate timed out")
    if configs.four_eyes and actor == record.actor:
        raise ConflictError(
            f"playbook run {run_id}: the run's starter cannot approve it (four_eyes)"
        )
    if gate.changes and sha256 != gate.sha256:
        raise InvalidRequestError(
            f"playbook run {run_id}: the hash given does not match the gate's changes "
            f"({gate.sha256[:12]}…); review them again"
        )
    if gate.changes:
        bound = [(c["change"], c["sha256"]) for c in gate.changes]
        await core.db.run(
            lambda db: changes.approve_changes(
                db,
                bound,
                actor=actor,
                four_eyes=configs.four_eyes,
                require_llm=configs.require_llm_review,
            )
        )

    def claim(db: sqlite3.Connection) -> RunRecord:
        with transaction(db):
            claimed = claim_run(db, run_id, ("waiting_approval",))
            opened = claimed.gate
            assert opened is not None
            opened.decision, opened.decided_by, opened.decided_at = "approved", actor, time.time()
            save_run(db, claimed)
            _audit(db, claimed, actor, "playbook_approve", changes=len(opened.changes))
        return claimed

    return await core.db.run(claim)


async def reject(core: AppCore, run_id: int, actor: str) -> RunRecord:
    """Reject the gate run `run_id` waits at: its changes are rejected and the run ends."""
    return await _end_waiting(core, run_id, actor, "rejected", "playbook_reject")


async def cancel_waiting(core: AppCore, run_id: int, actor: str) -> RunRecord:
    """Cancel a run that waits at a gate (its changes are rejected)."""
    return await _end_waiting(core, run_id, actor, "cancelled", "playbook_cancel")


async def cancel(core: AppCore, run_id: int, actor: str) -> RunRecord:
    """Cancel a run: one at a gate ends now (its changes rejected); one running stops before its
    next step, in whichever process runs it (the returned record is still `running` then)."""
    record = await core.db.run(load_run, run_id)
    if record.status == "waiting_approval":
        return await cancel_waiting(core, run_id, actor)
    return await core.db.run(request_cancel, run_id, actor)


async def _end_waiting(
    core: AppCore, run_id: int, actor: str, status: str, action: str
) -> RunRecord:
    def end(db: sqlite3.Connection) -> RunRecord:
        with transaction(db):
            record = load_run(db, run_id)
            gate = record.gate
            if record.status != "waiting_approval" or gate is None:
                raise ConflictError(
                    f"playbook run {run_id} is {record.status}, not waiting for approval"
                )
            for change in gate.changes:
                if changes.get_change(db, change["change"]).status in ("pending", "approved"):
                    changes.reject_change(db, change["change"], actor=actor)
            gate.decision, gate.decided_by, gate.decided_at = "rejected", actor, time.time()
            if status == "cancelled":
                record.cancelled_by = actor
            record.status, record.finished_at = status, time.time()
            record.stopped_because = f"{status} by {actor} at {where(record)}"
            save_run(db, record)
            _audit(db, record, actor, action)
        return record

    return await core.db.run(end)


async def resume(core: AppCore, run_id: int, actor: str) -> RunRecord:
    """Claim an interrupted run to go on from where it stopped (a device whose deploy finished
    is never pushed again; one whose deploy was cut is reported, not retried)."""
    await core.db.run(recover_orphans)

    def claim(db: sqlite3.Connection) -> RunRecord:
        with transaction(db):
            record = claim_run(db, run_id, ("interrupted",))
            _audit(db, record, actor, "playbook_resume", at=where(record))
        return record

    return await core.db.run(claim)


def expire_gates(db: sqlite3.Connection, now: float | None = None) -> list[int]:
    """End the runs whose approval gate timed out; their ids."""
    now = time.time() if now is None else now
    ended = []
    with transaction(db):
        for (run_id,) in db.execute(
            "SELECT id FROM playbook_runs WHERE status = 'waiting_approval'"
        ).fetchall():
            record = load_run(db, run_id)
            gate = record.gate
            if gate is None or now < gate.expires_at:
                continue
            record.status, record.finished_at = "expired", now
            record.stopped_because = (
                f"the approval gate at {where(record)} timed out after "
                f"{gate.expires_at - gate.opened_at:g} s"
            )
            save_run(db, record)
            ended.append(run_id)
    return ended


def recover_orphans(db: sqlite3.Connection) -> list[int]:
    """Mark `interrupted` the runs recorded as running by a process that no longer exists (a
    crash, a kill); their ids. They say where they stopped and can be resumed."""
    ended = []
    with transaction(db):
        for (run_id,) in db.execute(
            "SELECT id FROM playbook_runs WHERE status = 'running'"
        ).fetchall():
            record = load_run(db, run_id)
            if record.pid == os.getpid() or pid_alive(record.pid):
                continue
            record.status, record.finished_at = "interrupted", time.time()
            record.stopped_because = (
                f"the process running it (pid {record.pid}) ended at {where(record)}"
            )
            save_run(db, record)
            ended.append(run_id)
    return ended
