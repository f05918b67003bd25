"""The audit log: every state-changing action, append-only and hash-chained.

SQLite triggers refuse UPDATE and DELETE on the table. Each row also carries
chain = SHA-256(previous chain + the row's content), so `verify_chain` finds rows that were edited
or removed by someone who went around the triggers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from genosd.statedb import audit_head_path, conditions, read_audit_head, transaction

Result = Literal["ok", "failed", "denied"]
MAX_DETAILS = 4096
_COLUMNS = "id, time, actor, action, target, result, diff_hash, details, chain"


class AuditEntry(BaseModel):
    """One recorded action (also the API's view of it)."""

    model_config = ConfigDict(frozen=True)

    id: int
    time: float
    actor: str
    action: str
    target: str
    result: str
    diff_hash: str | None
    details: dict[str, Any]
    chain: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return self.model_dump(mode="json")


def _link(
    previous: str,
    when: float,
    actor: str,
    action: str,
    target: str,
    result: str,
    diff_hash: str | None,
    details: str,
) -> str:
    content = json.dumps([previous, when, actor, action, target, result, diff_hash, details])
    return hashlib.sha256(content.encode()).hexdigest()


def record(
    db: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str,
    result: Result = "ok",
    diff_hash: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry; the chain link is computed inside the same transaction as the insert.

    Fields are bounded (actor and action 128 characters, target 512, details 4 KiB of JSON), so
    no request can make one entry large.
    """
    actor, action, target = actor[:128], action[:128], target[:512]
    text = json.dumps(details or {}, sort_keys=True, default=str)
    if len(text) > MAX_DETAILS:
        text = json.dumps({"truncated": text[:MAX_DETAILS]})
    with transaction(db):
        last = db.execute("SELECT chain FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        when = time.time()
        chain = _link(last[0] if last else "", when, actor, action, target, result, diff_hash, text)
        cursor = db.execute(
            "INSERT INTO audit (time, actor, action, target, result, diff_hash, details, chain) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (when, actor, action, target, result, diff_hash, text, chain),
        )
    return AuditEntry(
        id=int(cursor.lastrowid or 0),
        time=when,
        actor=actor,
        action=action,
        target=target,
        result=result,
        diff_hash=diff_hash,
        details=details or {},
        chain=chain,
    )


@dataclass(frozen=True)
class AuditQuery:
    """Filters for reading the log; all optional."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    result: str | None = None
    since: float | None = None
    until: float | None = None


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    equal = {c: getattr(query, c) for c in ("actor", "action", "target", "result")}
    clauses, args = conditions(equal, "time", query.since, query.until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _entry(row: tuple) -> AuditEntry:
    fields = dict(zip(_COLUMNS.split(", "), row, strict=True))
    return AuditEntry(**{**fields, "details": json.loads(fields["details"])})


def search(
    db: sqlite3.Connection, query: AuditQuery, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Matching entries, newest first, and how many match in total."""
    where, args = _where(query)
    total = int(db.execute(f"SELECT COUNT(*) FROM audit{where}", args).fetchone()[0])
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit{where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    return [_entry(r) for r in rows], total


def entries_after(db: sqlite3.Connection, after_id: int, limit: int = 500) -> list[AuditEntry]:
    """Entries with an id above `after_id`, oldest first (the live feed's cursor)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    ).fetchall()
    return [_entry(r) for r in rows]


def last_id(db: sqlite3.Connection) -> int:
    """The newest entry's id (0 when the log is empty)."""
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0])


def export(db: sqlite3.Connection, query: AuditQuery, fmt: Literal["json", "csv"]) -> str:
    """Every matching entry, oldest first, as a JSON array or CSV."""
    where, args = _where(query)
    rows = db.execute(f"SELECT {_COLUMNS} FROM audit{where} ORDER BY id", args).fetchall()
    entries = [_entry(r) for r in rows]
    if fmt == "json":
        return json.dumps([e.as_dict() for e in entries], indent=1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_COLUMNS.split(", "))
    for e in entries:
        writer.writerow(
            [
                e.id,
                f"{e.time:.6f}",
                e.actor,
                e.action,
                e.target,
                e.result,
                e.diff_hash or "",
                json.dumps(e.details, sort_keys=True),
                e.chain,
            ]
        )
    return out.getvalue()


def verify(db: sqlite3.Connection) -> list[str]:
    """Everything wrong with the log: an edited entry, or newest entries removed; [] when intact."""
    broken = verify_chain(db)
    problems = []
    if broken is not None:
        problems.append(f"chain broken at entry {broken}: it was edited or rows were removed")
    path = audit_head_path(db)
    head = read_audit_head(path) if path else None
    if head is not None:
        head_id, head_chain = head
        row = db.execute("SELECT chain FROM audit WHERE id = ?", (head_id,)).fetchone()
        newest = db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
        if row is None:
            problems.append(
                f"the head file anchors entry {head_id} but the log ends at {newest}: "
                f"the newest {head_id - newest} entries were removed"
            )
        elif row[0] != head_chain:
            problems.append(f"entry {head_id} differs from what the head file anchored")
    return problems


def head(db: sqlite3.Connection) -> str | None:
    """The head file's content (`<id> <chain>`), to keep with an export."""
    path = audit_head_path(db)
    anchored = read_audit_head(path) if path else None
    return f"{anchored[0]} {anchored[1]}" if anchored else None


def verify_chain(db: sqlite3.Connection) -> int | None:
    """The id of the first entry whose chain link does not match, or None if all do."""
    previous = ""
    for row in db.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id"):
        entry_id, when, actor, action, target, result, diff_hash, details, chain = row
        if _link(previous, when, actor, action, target, result, diff_hash, details) != chain:
            return int(entry_id)
        previous = chain
    return None
