"""Playbook run records: what each step did on each host, and the run as stored."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from genosd.statedb import transaction


@dataclass
class HostResult:
    """What one step did on one host."""

    status: str  # ok | changed | failed | skipped
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1

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
    """One step over one batch."""

    batch: int
    step: str
    action: str | None
    hosts: dict[str, HostResult] = field(default_factory=dict)


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
    status: str = "running"  # running | ok | partial (hosts failed within limits) | stopped
    stopped_because: str | None = None
    failed_hosts: list[str] = field(default_factory=list)
    steps: list[StepRun] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The record as JSON-able data."""
        return asdict(self)


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
