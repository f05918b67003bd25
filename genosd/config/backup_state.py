"""When each device's running config was last read by a backup, and how the last try went:
freshness counts reads, not changes (an unchanged config commits nothing to the history)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from genosd.statedb import transaction


def remember(
    db: sqlite3.Connection, outcomes: Iterable[tuple[str, bool, str | None]], now: float
) -> None:
    """Record (device, ok, error) of a backup run."""
    with transaction(db):
        for device, ok, error in outcomes:
            db.execute(
                "INSERT INTO backup_state (device, last_ok, last_attempt, last_error) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
                "last_ok = COALESCE(excluded.last_ok, backup_state.last_ok), "
                "last_attempt = excluded.last_attempt, last_error = excluded.last_error",
                (device, now if ok else None, now, None if ok else (error or "failed")[:500]),
            )


def last_backups(db: sqlite3.Connection) -> dict[str, tuple[float | None, str | None]]:
    """Device -> (last successful read, last error)."""
    rows = db.execute("SELECT device, last_ok, last_error FROM backup_state").fetchall()
    return {device: (last_ok, error) for device, last_ok, error in rows}
