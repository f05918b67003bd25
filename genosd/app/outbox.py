"""Events published by short-lived processes (the CLI), relayed live by the daemon.

A CLI deploy publishes the same `run` and `alert` events as an API deploy. Its process has no event
stream of its own, so each event is written to `event_outbox` in the state database; the daemon
reads new rows every second and publishes them on its bus (WebSocket clients, plugin sinks,
ChatOps), marked `"origin": "cli"`. Rows older than a day are pruned.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from genosd.statedb import transaction

KEEP_SECONDS = 86400.0


def write(db: sqlite3.Connection, topic: str, data: dict[str, Any]) -> None:
    """Queue one event for the daemon."""
    with transaction(db):
        db.execute(
            "INSERT INTO event_outbox (time, topic, data) VALUES (?, ?, ?)",
            (time.time(), topic, json.dumps(data, default=str)),
        )


def last_id(db: sqlite3.Connection) -> int:
    """The newest row's id (0 when empty): where a fresh reader starts."""
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM event_outbox").fetchone()[0])


def read_after(
    db: sqlite3.Connection, cursor: int, limit: int = 1000
) -> list[tuple[int, str, dict[str, Any]]]:
    """(id, topic, data) of the rows after `cursor`, oldest first."""
    rows = db.execute(
        "SELECT id, topic, data FROM event_outbox WHERE id > ? ORDER BY id LIMIT ?",
        (cursor, limit),
    ).fetchall()
    return [(row_id, topic, json.loads(data)) for row_id, topic, data in rows]


def prune(db: sqlite3.Connection, now: float | None = None) -> int:
    """Forget rows older than KEEP_SECONDS; how many went."""
    cutoff = (time.time() if now is None else now) - KEEP_SECONDS
    with transaction(db):
        return db.execute("DELETE FROM event_outbox WHERE time < ?", (cutoff,)).rowcount
