"""Incidents in the state database: alerts opening, joining and closing them, people
acknowledging and resolving them, the timeline of each, silences. Functions run on the database
thread (`core.db.run`); the CLI calls them directly on the file.

An incident is open → acknowledged → resolved. Alerts with the same group key (the device, by
default) while an incident is not resolved join it instead of opening another, so a device that
goes down is one incident, not one per interface, trap and syslog line. When its last firing
alert resolves, the incident resolves itself.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Literal

from genosd.alerts.engine import Alert
from genosd.alerts.rules import SEVERITIES
from genosd.alerts.silences import Silence, SilenceSpec
from genosd.errors import ConflictError, NotFoundError
from genosd.statedb import transaction

IncidentStatus = Literal["open", "acknowledged", "resolved"]
AUTO = "genosd"  # the actor when the incident resolves itself


@dataclass(frozen=True)
class Change:
    """What storing a transition did to incidents (for events and notifications)."""

    alert_id: int
    incident: int | None
    action: Literal["opened", "joined", "escalated", "alert_resolved", "resolved", "none"]


def _worse(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


def record_fired(
    db: sqlite3.Connection, alert: Alert, group_key: str, silenced_by: int | None
) -> Change:
    """Store a fired alert; open its incident or join the open one of its group."""
    with transaction(db):
        incident: int | None = None
        action: Any = "none"
        if silenced_by is None:
            row = db.execute(
                "SELECT id, severity FROM incidents WHERE group_key = ? AND status != 'resolved'"
                " ORDER BY id DESC LIMIT 1",
                (group_key,),
            ).fetchone()
            if row is None:
                labels = {k: v for k, v in alert.labels.items() if k not in ("alertname",)}
                cursor = db.execute(
                    "INSERT INTO incidents (group_key, title, severity, status, labels, opened_at)"
                    " VALUES (?, ?, ?, 'open', ?, ?)",
                    (group_key, alert.summary, alert.severity, json.dumps(labels), alert.fired_at),
                )
                incident, action = int(cursor.lastrowid or 0), "opened"
            else:
                incident, action = int(row[0]), "joined"
                worse = _worse(alert.severity, row[1])
                if worse != row[1]:
                    db.execute(
                        "UPDATE incidents SET severity = ?, title = ? WHERE id = ?",
                        (worse, alert.summary, incident),
                    )
                    action = "escalated"
        cursor = db.execute(
            "INSERT INTO alerts (rule, key, severity, labels, summary, value, details, started_at,"
            " fired_at, incident, silenced_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.rule,
                alert.key,
                alert.severity,
                json.dumps(alert.labels),
                alert.summary,
                None if alert.value is None else json.dumps(alert.value),
                json.dumps(alert.details, default=str),
                alert.started_at,
                alert.fired_at,
                incident,
                silenced_by,
            ),
        )
        alert_id = int(cursor.lastrowid or 0)
        if incident is not None:
            _timeline(db, incident, alert.fired_at or time.time(), "alert_fired", None, {
                "alert": alert_id, "rule": alert.rule, "severity": alert.severity,
                "summary": alert.summary, "labels": alert.labels, "value": alert.value,
            })  # fmt: skip
        return Change(alert_id, incident, action)


def record_resolved(db: sqlite3.Connection, alert: Alert, at: float) -> Change:
    """Mark a firing alert resolved; resolve its incident when nothing in it fires any more."""
    with transaction(db):
        row = db.execute(
            "SELECT id, incident FROM alerts WHERE key = ? AND resolved_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (alert.key,),
        ).fetchone()
        if row is None:
            return Change(0, None, "none")
        alert_id, incident = int(row[0]), row[1]
        db.execute("UPDATE alerts SET resolved_at = ? WHERE id = ?", (at, alert_id))
        if incident is None:
            return Change(alert_id, None, "none")
        _timeline(db, incident, at, "alert_resolved", None, {
            "alert": alert_id, "rule": alert.rule, "summary": alert.summary,
        })  # fmt: skip
        firing = db.execute(
            "SELECT COUNT(*) FROM alerts WHERE incident = ? AND resolved_at IS NULL", (incident,)
        ).fetchone()[0]
        status = db.execute("SELECT status FROM incidents WHERE id = ?", (incident,)).fetchone()[0]
        if firing or status == "resolved":
            return Change(alert_id, incident, "alert_resolved")
        db.execute(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?, resolved_by = ?"
            " WHERE id = ?",
            (at, AUTO, incident),
        )
        _timeline(db, incident, at, "resolved", AUTO, {"reason": "every alert resolved"})
        return Change(alert_id, incident, "resolved")


def acknowledge(db: sqlite3.Connection, incident: int, actor: str, note: str | None) -> None:
    """open → acknowledged; ConflictError when it is not open, NotFoundError when absent."""
    with transaction(db):
        status = _status(db, incident)
        if status != "open":
            raise ConflictError(f"incident {incident} is {status}, not open")
        now = time.time()
        db.execute(
            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?,"
            " acknowledged_by = ? WHERE id = ?",
            (now, actor, incident),
        )
        _timeline(db, incident, now, "acknowledged", actor, {"note": note})


def resolve(db: sqlite3.Connection, incident: int, actor: str, note: str | None) -> None:
    """Resolve by hand (alerts still firing stay recorded; a new one opens a new incident)."""
    with transaction(db):
        status = _status(db, incident)
        if status == "resolved":
            raise ConflictError(f"incident {incident} is already resolved")
        now = time.time()
        db.execute(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?, resolved_by = ?"
            " WHERE id = ?",
            (now, actor, incident),
        )
        db.execute(
            "UPDATE alerts SET incident = NULL WHERE incident = ? AND resolved_at IS NULL",
            (incident,),
        )
        _timeline(db, incident, now, "resolved", actor, {"note": note})


def add_note(db: sqlite3.Connection, incident: int, actor: str, text: str) -> None:
    """A person's note on the timeline."""
    with transaction(db):
        _status(db, incident)
        _timeline(db, incident, time.time(), "note", actor, {"note": text})


def add_entry(
    db: sqlite3.Connection, incident: int, kind: str, data: dict[str, Any], at: float
) -> None:
    """Something that fed or touched the incident (an event, a notification) on its timeline."""
    with transaction(db):
        _timeline(db, incident, at, kind, None, data)


def _status(db: sqlite3.Connection, incident: int) -> str:
    row = db.execute("SELECT status FROM incidents WHERE id = ?", (incident,)).fetchone()
    if row is None:
        raise NotFoundError(f"no incident {incident}")
    return str(row[0])


def _timeline(
    db: sqlite3.Connection,
    incident: int,
    at: float,
    kind: str,
    actor: str | None,
    data: dict[str, Any],
) -> None:
    db.execute(
        "INSERT INTO incident_timeline (incident, at, kind, actor, data) VALUES (?, ?, ?, ?, ?)",
        (incident, at, kind, actor, json.dumps(data, default=str)),
    )


_INCIDENT = (
    "id, group_key, title, severity, status, labels, opened_at, acknowledged_at,"
    " acknowledged_by, resolved_at, resolved_by"
)


def _incident(row: tuple[Any, ...]) -> dict[str, Any]:
    names = [n.strip() for n in _INCIDENT.split(",")]
    found = dict(zip(names, row, strict=True))
    found["labels"] = json.loads(found["labels"])
    return found


def list_incidents(
    db: sqlite3.Connection,
    *,
    status: str | None = None,
    device: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Incidents, newest first; `status` one of open/acknowledged/resolved or `active`
    (not resolved); `device` by the incident's device label."""
    clauses, params = [], []
    if status == "active":
        clauses.append("status != 'resolved'")
    elif status is not None:
        clauses.append("status = ?")
        params.append(status)
    if device is not None:
        clauses.append("json_extract(labels, '$.device') = ?")
        params.append(device)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT {_INCIDENT} FROM incidents{where} ORDER BY id DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [_incident(row) for row in rows]


def get_incident(db: sqlite3.Connection, incident: int) -> dict[str, Any]:
    """One incident with its alerts and timeline (oldest first); NotFoundError when absent."""
    row = db.execute(f"SELECT {_INCIDENT} FROM incidents WHERE id = ?", (incident,)).fetchone()
    if row is None:
        raise NotFoundError(f"no incident {incident}")
    found = _incident(row)
    found["alerts"] = [
        _alert_row(r)
        for r in db.execute(
            f"SELECT {_ALERT} FROM alerts WHERE incident = ? ORDER BY id", (incident,)
        )
    ]
    found["timeline"] = [
        {"at": at, "kind": kind, "actor": actor, "data": json.loads(data)}
        for at, kind, actor, data in db.execute(
            "SELECT at, kind, actor, data FROM incident_timeline WHERE incident = ? ORDER BY id",
            (incident,),
        )
    ]
    return found


_ALERT = (
    "id, rule, key, severity, labels, summary, value, details, started_at, fired_at,"
    " resolved_at, incident, silenced_by"
)


def _alert_row(row: tuple[Any, ...]) -> dict[str, Any]:
    names = [n.strip() for n in _ALERT.split(",")]
    found = dict(zip(names, row, strict=True))
    found["labels"] = json.loads(found["labels"])
    found["details"] = json.loads(found["details"])
    found["value"] = json.loads(found["value"]) if found["value"] is not None else None
    return found


def list_alerts(
    db: sqlite3.Connection, *, firing: bool = True, limit: int = 1000
) -> list[dict[str, Any]]:
    """Alerts firing now (or all, newest first)."""
    where = " WHERE resolved_at IS NULL" if firing else ""
    rows = db.execute(f"SELECT {_ALERT} FROM alerts{where} ORDER BY id DESC LIMIT ?", (limit,))
    return [_alert_row(row) for row in rows]


def firing_alerts(db: sqlite3.Connection) -> list[Alert]:
    """The alerts stored as firing (to carry them over a restart)."""
    alerts = []
    for row in list_alerts(db, firing=True, limit=1_000_000):
        alerts.append(
            Alert(row["rule"], row["key"], row["severity"], row["labels"], row["summary"],
                  row["value"], row["started_at"], row["fired_at"], row["details"])
        )  # fmt: skip
    return alerts


# --- silences --------------------------------------------------------------------------------


def add_silence(db: sqlite3.Connection, spec: SilenceSpec, actor: str) -> Silence:
    """Store a silence or maintenance window."""
    now = time.time()
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO silences (data, ends_at) VALUES ('{}', ?)", (spec.ends_at,)
        )
        silence = Silence(
            **{**spec.model_dump(), "starts_at": spec.starts_at or now},
            id=int(cursor.lastrowid or 0),
            created_by=actor,
            created_at=now,
        )
        db.execute(
            "UPDATE silences SET data = ? WHERE id = ?", (silence.model_dump_json(), silence.id)
        )
    return silence


def list_silences(db: sqlite3.Connection, *, current: bool = True) -> list[Silence]:
    """Silences not ended and not past their end (or all of them)."""
    where = " WHERE ended_at IS NULL AND ends_at > ?" if current else " WHERE ? IS NOT NULL"
    rows = db.execute(f"SELECT data FROM silences{where} ORDER BY id", (time.time(),))
    return [Silence.model_validate_json(row[0]) for row in rows]


def end_silence(db: sqlite3.Connection, silence_id: int, actor: str) -> Silence:
    """End a silence now."""
    with transaction(db):
        row = db.execute("SELECT data FROM silences WHERE id = ?", (silence_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no silence {silence_id}")
        silence = Silence.model_validate_json(row[0])
        if silence.ended_at is not None:
            raise ConflictError(f"silence {silence_id} already ended")
        ended = silence.model_copy(update={"ended_by": actor, "ended_at": time.time()})
        db.execute(
            "UPDATE silences SET data = ?, ended_at = ? WHERE id = ?",
            (ended.model_dump_json(), ended.ended_at, silence_id),
        )
    return ended


def prune(db: sqlite3.Connection, before: float) -> None:
    """Forget incidents resolved before `before` (with their alerts and timeline), alerts
    resolved before it outside incidents, and notifications settled before it."""
    with transaction(db):
        old = "SELECT id FROM incidents WHERE status = 'resolved' AND resolved_at < ?"
        db.execute(f"DELETE FROM incident_timeline WHERE incident IN ({old})", (before,))
        db.execute(f"DELETE FROM alerts WHERE incident IN ({old})", (before,))
        db.execute("DELETE FROM alerts WHERE incident IS NULL AND resolved_at < ?", (before,))
        db.execute("DELETE FROM incidents WHERE status = 'resolved' AND resolved_at < ?", (before,))
        db.execute(
            "DELETE FROM notifications WHERE status != 'pending' AND created_at < ?", (before,)
        )
        db.execute("DELETE FROM silences WHERE ends_at < ? OR ended_at < ?", (before, before))
