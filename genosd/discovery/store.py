"""Discovery runs and sightings in the state database (tables of migration 15)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from genosd.discovery.proposals import Proposal, proposal_from
from genosd.errors import NotFoundError
from genosd.statedb import transaction

_COLUMNS = "id, started_at, finished_at, actor, status, stopped, summary, sightings, proposals"


def begin(db: sqlite3.Connection, actor: str, now: float) -> int:
    """A new run, `running`; its id."""
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO discovery_runs (started_at, actor, status, summary, sightings, "
            "proposals) VALUES (?, ?, 'running', '{}', '[]', '[]')",
            (now, actor),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def finish(
    db: sqlite3.Connection,
    run_id: int,
    *,
    status: str,
    stopped: str | None,
    summary: dict[str, Any],
    sightings: list[dict[str, Any]],
    proposals: list[Proposal],
    now: float,
) -> None:
    """Record how a run ended and what it proposes."""
    with transaction(db):
        db.execute(
            "UPDATE discovery_runs SET finished_at = ?, status = ?, stopped = ?, summary = ?, "
            "sightings = ?, proposals = ? WHERE id = ?",
            (
                now,
                status,
                stopped,
                json.dumps(summary),
                json.dumps(sightings),
                json.dumps([asdict(p) for p in proposals]),
                run_id,
            ),
        )


def fail(db: sqlite3.Connection, run_id: int, status: str, reason: str, now: float) -> None:
    """A run that ended without a result (interrupted, failed)."""
    with transaction(db):
        db.execute(
            "UPDATE discovery_runs SET finished_at = ?, status = ?, stopped = ? WHERE id = ?",
            (now, status, reason, run_id),
        )


def _run(row: tuple[Any, ...], full: bool) -> dict[str, Any]:
    run = dict(zip(_COLUMNS.split(", "), row, strict=True))
    run["summary"] = json.loads(run["summary"])
    run["proposals"] = json.loads(run["proposals"])
    run["sightings"] = json.loads(run["sightings"]) if full else None
    return run


def get(db: sqlite3.Connection, run_id: int | None, *, full: bool = True) -> dict[str, Any]:
    """One run (the newest when `run_id` is None); NotFoundError when there is none."""
    if run_id is None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM discovery_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    else:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM discovery_runs WHERE id = ?", (run_id,)
        ).fetchone()
    if row is None:
        raise NotFoundError(
            "no discovery run yet" if run_id is None else f"no discovery run {run_id}"
        )
    return _run(row, full)


def recent(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest runs, without their sightings."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM discovery_runs ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_run(row, full=False) for row in rows]


def proposals_of(run: dict[str, Any]) -> list[Proposal]:
    """A stored run's proposals."""
    return [proposal_from(p) for p in run["proposals"]]


def save_proposals(db: sqlite3.Connection, run_id: int, proposals: list[Proposal]) -> None:
    """Store decisions on a run's proposals."""
    with transaction(db):
        db.execute(
            "UPDATE discovery_runs SET proposals = ? WHERE id = ?",
            (json.dumps([asdict(p) for p in proposals]), run_id),
        )


def last_seen(db: sqlite3.Connection) -> dict[str, float]:
    """When discovery last saw each device, or first looked for one it never saw."""
    rows = db.execute("SELECT device, last_seen, first_looked FROM discovery_seen").fetchall()
    return {device: seen if seen is not None else first for device, seen, first in rows}


def mark_seen(db: sqlite3.Connection, seen: dict[str, float], first: dict[str, float]) -> None:
    """Record sightings of inventory devices, and the first miss of never-seen ones."""
    with transaction(db):
        db.executemany(
            "INSERT INTO discovery_seen (device, last_seen, first_looked) VALUES (?, ?, ?) "
            "ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen",
            [(d, t, t) for d, t in seen.items()],
        )
        db.executemany(
            "INSERT INTO discovery_seen (device, last_seen, first_looked) VALUES (?, NULL, ?) "
            "ON CONFLICT (device) DO NOTHING",
            list(first.items()),
        )
