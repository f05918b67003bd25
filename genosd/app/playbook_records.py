"""Playbook run records: what each step did on each host, where the run is, and the run as stored.

A run is saved after every top-level step, so a restart finds it where it was: waiting at an
approval gate (it goes on when approved), or interrupted (it can be resumed from its cursor).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from genosd.errors import ConflictError, NotFoundError
from genosd.playbooks.model import Playbook
from genosd.statedb import transaction

# how a run ends; `running` and `waiting_approval` are the two states it can be found in
FINAL = frozenset({"ok", "partial", "stopped", "interrupted", "cancelled", "rejected", "expired"})


@dataclass
class HostResult:
    """What one step did on one host."""

    status: str  # ok | changed | failed | skipped
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    node: str | None = None  # the cluster node that ran it, when not the run's own

    def registered(self) -> dict[str, Any]:
        """What `register` keeps: the data plus the outcome flags."""
        return {
            **self.data,
            "failed": self.status == "failed",
            "changed": self.status == "changed",
            "skipped": self.status == "skipped",
            "error": self.error,
        }


@dataclass
class StepRun:
    """One step over one batch; `index` is its top-level step's position."""

    batch: int
    step: str
    action: str | None
    hosts: dict[str, HostResult] = field(default_factory=dict)
    index: int = 0
    register: str | None = None
    started_at: float = field(default_factory=time.time)
    duration: float = 0.0  # seconds, retries included


@dataclass
class Cursor:
    """Where a run is: the batch, the next top-level step, and the batch's hosts so far."""

    batch: int = 0
    step: int = 0
    active: list[str] | None = None  # None: the batch has not started
    failed: list[str] = field(default_factory=list)


@dataclass
class Gate:
    """An approval gate a run waits at: what it asks, of whom, and the changes it approves."""

    batch: int
    step: int
    message: str
    role: str
    opened_at: float
    expires_at: float
    sha256: str  # of the changes below: what an approver names
    changes: list[dict[str, Any]] = field(default_factory=list)  # device, change, sha256, diff
    decided_by: str | None = None
    decided_at: float | None = None
    decision: str | None = None  # approved | rejected


@dataclass
class RunRecord:
    """A playbook run: who, what, when, every step's per-host results, how it ended."""

    playbook: str
    actor: str
    check: bool
    variables: dict[str, Any]
    batches: list[list[str]]
    id: int | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    # running | waiting_approval | ok | partial (hosts failed within limits) | stopped
    # | interrupted | cancelled | rejected | expired
    status: str = "running"
    stopped_because: str | None = None
    failed_hosts: list[str] = field(default_factory=list)
    steps: list[StepRun] = field(default_factory=list)
    definition: dict[str, Any] = field(default_factory=dict)  # the playbook as it started
    cursor: Cursor = field(default_factory=Cursor)
    gates: list[Gate] = field(default_factory=list)
    # per host: the pending change its plan made, and the changes this run deployed on it
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled_by: str | None = None
    pid: int = field(default_factory=os.getpid)  # the process running it

    @property
    def gate(self) -> Gate | None:
        """The gate the run waits at, if it does."""
        if self.gates and self.gates[-1].decision is None:
            return self.gates[-1]
        return None

    def summary(self) -> dict[str, Any]:
        """The record as JSON-able data."""
        return asdict(self)

    @classmethod
    def from_summary(cls, data: dict[str, Any]) -> RunRecord:
        """A record read back from its stored form."""
        data = dict(data)
        data["steps"] = [
            StepRun(
                **{
                    **s,
                    "hosts": {n: HostResult(**r) for n, r in s["hosts"].items()},
                }
            )
            for s in data.get("steps", [])
        ]
        data["cursor"] = Cursor(**data.get("cursor", {}))
        data["gates"] = [Gate(**g) for g in data.get("gates", [])]
        return cls(**data)


def playbook_of(record: RunRecord) -> Playbook:
    """The playbook as the run started it (an edited file does not change a run in flight)."""
    return Playbook.model_validate(record.definition)


def where(record: RunRecord) -> str:
    """The run's position, in words."""
    cursor, steps = record.cursor, playbook_of(record).steps
    label = steps[cursor.step].label if cursor.step < len(steps) else "end of the batch"
    return f"batch {cursor.batch + 1}, step {cursor.step + 1} ({label})"


def save_run(db: sqlite3.Connection, record: RunRecord) -> int:
    """Insert or update a run record; its id."""
    data = json.dumps(record.summary(), default=str)
    with transaction(db):
        if record.id is None:
            cursor = db.execute(
                "INSERT INTO playbook_runs (playbook, actor, check_mode, started_at, status, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.playbook,
                    record.actor,
                    record.check,
                    record.started_at,
                    record.status,
                    data,
                ),
            )
            return int(cursor.lastrowid or 0)
        db.execute(
            "UPDATE playbook_runs SET finished_at = ?, status = ?, data = ? WHERE id = ?",
            (record.finished_at, record.status, data, record.id),
        )
        return record.id


def load_run(db: sqlite3.Connection, run_id: int) -> RunRecord:
    """A stored run; NotFoundError if there is none."""
    row = db.execute("SELECT data FROM playbook_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no playbook run {run_id}")
    record = RunRecord.from_summary(json.loads(row[0]))
    record.id = run_id
    return record


def claim_run(db: sqlite3.Connection, run_id: int, states: tuple[str, ...]) -> RunRecord:
    """Take a run in one of `states` for running it on (once: a second claimer gets
    ConflictError); its stored record, now `running`."""
    with transaction(db):
        record = load_run(db, run_id)
        if record.status not in states:
            raise ConflictError(
                f"playbook run {run_id} is {record.status}, not {' or '.join(states)}"
            )
        record.status, record.finished_at, record.pid = "running", None, os.getpid()
        record.stopped_because = None
        save_run(db, record)
    return record


def active_runs(db: sqlite3.Connection, playbook: str | None = None) -> list[tuple[int, str, str]]:
    """(id, playbook, status) of runs running or waiting for an approval."""
    query = "SELECT id, playbook, status FROM playbook_runs WHERE status IN ('running', 'waiting_approval')"
    args: tuple[str, ...] = ()
    if playbook is not None:
        query += " AND playbook = ?"
        args = (playbook,)
    return [(int(r[0]), r[1], r[2]) for r in db.execute(query + " ORDER BY id", args)]


def request_cancel(db: sqlite3.Connection, run_id: int, actor: str) -> RunRecord:
    """Ask the process running `run_id` to stop it before its next step; the run as it is."""
    with transaction(db):
        record = load_run(db, run_id)
        if record.status != "running":
            raise ConflictError(f"playbook run {run_id} is {record.status}, not running")
        db.execute(
            "INSERT OR IGNORE INTO playbook_cancels (run, actor, requested_at) VALUES (?, ?, ?)",
            (run_id, actor, time.time()),
        )
    return record


def cancel_requested(db: sqlite3.Connection, run_id: int) -> str | None:
    """Who asked to cancel `run_id`, if someone did."""
    row = db.execute("SELECT actor FROM playbook_cancels WHERE run = ?", (run_id,)).fetchone()
    return str(row[0]) if row else None
