"""Received syslog messages in the state database (`syslog`): a column per field, so storing
one costs no JSON document; listed newest first with filters; pruned by age and count."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from genosd.statedb import transaction
from genosd.syslog.message import FACILITIES, SEVERITIES

_COLUMNS = (
    "received_at, source, transport, device, format, facility, severity, timestamp, hostname, "
    "app, procid, msgid, structured, message, event, event_data"
)


def insert_messages(db: sqlite3.Connection, records: list[dict[str, Any]]) -> list[int]:
    """Store received messages; their ids."""
    with transaction(db):
        first = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM syslog").fetchone()[0]) + 1
        ids = list(range(first, first + len(records)))
        db.executemany(
            f"INSERT INTO syslog (id, {_COLUMNS}) VALUES ({', '.join('?' * 17)})",
            [
                (
                    message_id,
                    r["received_at"],
                    r["source"],
                    r["transport"],
                    r["device"],
                    r["format"],
                    r["facility_code"],
                    r["severity_code"],
                    r["timestamp"],
                    r["hostname"],
                    r["app"],
                    r["procid"],
                    r["msgid"],
                    json.dumps(r["structured"]) if r["structured"] else None,
                    r["message"],
                    r["event"]["kind"] if r["event"] else None,
                    json.dumps(r["event"]) if r["event"] else None,
                )
                for message_id, r in zip(ids, records, strict=True)
            ],
        )
    return ids


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    (message_id, received_at, source, transport, device, form, facility, severity, timestamp,
     hostname, app, procid, msgid, structured, message, _, event) = row  # fmt: skip
    return {
        "id": message_id,
        "received_at": received_at,
        "source": source,
        "transport": transport,
        "device": device,
        "format": form,
        "facility": FACILITIES[facility] if facility < len(FACILITIES) else str(facility),
        "facility_code": facility,
        "severity": SEVERITIES[severity],
        "severity_code": severity,
        "timestamp": timestamp,
        "hostname": hostname,
        "app": app,
        "procid": procid,
        "msgid": msgid,
        "structured": json.loads(structured) if structured else {},
        "message": message,
        "event": json.loads(event) if event else None,
    }


def list_messages(
    db: sqlite3.Connection,
    *,
    device: str | None = None,
    since: float | None = None,
    until: float | None = None,
    severity: int | None = None,
    event: str | None = None,
    text: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored messages, newest first: of one device, in a time range, at `severity` or worse,
    of one event kind (`any` for every classified one), containing `text`."""
    clauses: list[str] = []
    params: list[object] = []
    for clause, value in (
        ("device = ?", device),
        ("received_at >= ?", since),
        ("received_at <= ?", until),
        ("severity <= ?", severity),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if event == "any":
        clauses.append("event IS NOT NULL")
    elif event is not None:
        clauses.append("event = ?")
        params.append(event)
    if text:
        clauses.append("instr(lower(message), lower(?)) > 0")
        params.append(text)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT id, {_COLUMNS} FROM syslog{where} ORDER BY id DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [_row(row) for row in rows]


def prune_messages(db: sqlite3.Connection, before: float, keep: int) -> None:
    """Delete messages older than `before` and all but the newest `keep`."""
    with transaction(db):
        db.execute("DELETE FROM syslog WHERE received_at < ?", (before,))
        db.execute(
            "DELETE FROM syslog WHERE id <= (SELECT id FROM syslog ORDER BY id DESC LIMIT 1 "
            "OFFSET ?)",
            (keep,),
        )
