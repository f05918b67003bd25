"""The daemon's state database (API keys, audit log, …): one SQLite file under the state dir.

Each feature owns its tables and registers its schema as a numbered migration. The daemon calls the
database from one worker thread (StateDB.run) so the event loop never waits on a lock; the CLI uses
the same file directly, which WAL mode makes safe while the daemon runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: API keys
    """
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        prefix TEXT NOT NULL UNIQUE,
        digest TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        expires_at REAL,
        revoked_at REAL,
        last_used_at REAL
    );
    """,
    # 2: the audit log, append-only: rows can be added, never changed or removed
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL,
        diff_hash TEXT,
        details TEXT NOT NULL,
        chain TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit (time);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 3: compliance history and planned config changes (approvals bound to a diff hash)
    """
    CREATE TABLE compliance (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        checked_at REAL NOT NULL,
        source TEXT NOT NULL,
        score REAL NOT NULL,
        rules_applied INTEGER NOT NULL,
        rules_passed INTEGER NOT NULL,
        findings TEXT NOT NULL
    );
    CREATE INDEX compliance_device ON compliance (device, checked_at);
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        commands TEXT NOT NULL,
        rollback TEXT NOT NULL,
        diff TEXT NOT NULL,
        findings TEXT NOT NULL,
        llm TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        expires_at REAL NOT NULL,
        status TEXT NOT NULL,
        approved_by TEXT,
        approved_at REAL,
        finished_at REAL,
        result TEXT
    );
    CREATE INDEX changes_device ON changes (device, created_at);
    """,
    # 4: the newest parsed show outputs (facts) of each SSH device
    """
    CREATE TABLE facts (
        device TEXT PRIMARY KEY,
        collected_at REAL NOT NULL,
        facts TEXT NOT NULL,
        errors TEXT NOT NULL
    );
    """,
    # 5: a restore change names the stored version it brings back
    """
    ALTER TABLE changes ADD COLUMN source TEXT;
    """,
    # 6: work on a device held by one process at a time (deploys, restores), events that CLI
    # processes publish for the daemon to relay, and the last outcome of each scheduled job
    """
    CREATE TABLE device_locks (
        device TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired_at REAL NOT NULL
    );
    CREATE TABLE event_outbox (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        topic TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE job_state (
        name TEXT PRIMARY KEY,
        runs INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        last_run REAL,
        last_duration REAL,
        last_error TEXT,
        last_ok REAL
    );
    """,
    # 7: compliance waivers: a rule's findings accepted for a device, a group or every device,
    # with a reason, an owner and an expiry
    """
    CREATE TABLE waivers (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        device TEXT,
        grp TEXT,
        reason TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_by TEXT,
        revoked_at REAL
    );
    """,
    # 8: received SNMP traps and informs
    """
    CREATE TABLE traps (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        source TEXT NOT NULL,
        device TEXT,
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        trap_oid TEXT NOT NULL,
        name TEXT,
        data TEXT NOT NULL
    );
    CREATE INDEX traps_received ON traps (received_at);
    CREATE INDEX traps_device ON traps (device, received_at);
    """,
    # 9: playbook runs: who, what, when, per-step per-host results
    """
    CREATE TABLE playbook_runs (
        id INTEGER PRIMARY KEY,
        playbook TEXT NOT NULL,
        actor TEXT NOT NULL,
        check_mode INTEGER NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        status TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX playbook_runs_name ON playbook_runs (playbook, id);
    """,
    # 10: a change may cover only some of the device's features (a playbook's `plan: {features}`);
    # requests to cancel a playbook run, read by whichever process runs it
    """
    ALTER TABLE changes ADD COLUMN features TEXT;
    CREATE TABLE playbook_cancels (
        run INTEGER PRIMARY KEY,
        actor TEXT NOT NULL,
        requested_at REAL NOT NULL
    );
    """,
    # 11: every model call: who was asked, what it cost, how it ended
    """
    CREATE TABLE llm_usage (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        result TEXT NOT NULL,
        latency REAL NOT NULL,
        tokens_in INTEGER NOT NULL,
        tokens_out INTEGER NOT NULL,
        first_token REAL,
        cached INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX llm_usage_at ON llm_usage (at);
    """,
    # 12: received syslog messages, parsed (a column per field: no JSON to write per message)
    """
    CREATE TABLE syslog (
        id INTEGER PRIMARY KEY,
        received_at REAL NOT NULL,
        source TEXT NOT NULL,
        transport TEXT NOT NULL,
        device TEXT,
        format TEXT NOT NULL,
        facility INTEGER NOT NULL,
        severity INTEGER NOT NULL,
        timestamp REAL,
        hostname TEXT,
        app TEXT,
        procid TEXT,
        msgid TEXT,
        structured TEXT,
        message TEXT NOT NULL,
        event TEXT,
        event_data TEXT
    );
    CREATE INDEX syslog_received ON syslog (received_at);
    CREATE INDEX syslog_device ON syslog (device, received_at);
    CREATE INDEX syslog_event ON syslog (event, received_at) WHERE event IS NOT NULL;
    """,
    # 13: alerts, the incidents they open, what happened to each, silences, notifications due
    """
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        labels TEXT NOT NULL,
        opened_at REAL NOT NULL,
        acknowledged_at REAL,
        acknowledged_by TEXT,
        resolved_at REAL,
        resolved_by TEXT
    );
    CREATE INDEX incidents_open ON incidents (group_key) WHERE status != 'resolved';
    CREATE INDEX incidents_opened ON incidents (opened_at);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        key TEXT NOT NULL,
        severity TEXT NOT NULL,
        labels TEXT NOT NULL,
        summary TEXT NOT NULL,
        value TEXT,
        details TEXT NOT NULL,
        started_at REAL NOT NULL,
        fired_at REAL NOT NULL,
        resolved_at REAL,
        incident INTEGER REFERENCES incidents (id),
        silenced_by INTEGER
    );
    CREATE INDEX alerts_firing ON alerts (key) WHERE resolved_at IS NULL;
    CREATE INDEX alerts_incident ON alerts (incident);
    CREATE TABLE incident_timeline (
        id INTEGER PRIMARY KEY,
        incident INTEGER NOT NULL REFERENCES incidents (id),
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        data TEXT NOT NULL
    );
    CREATE INDEX incident_timeline_incident ON incident_timeline (incident, at);
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        data TEXT NOT NULL,
        ends_at REAL NOT NULL,
        ended_at REAL
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        incident INTEGER,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        last_error TEXT,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    CREATE INDEX notifications_due ON notifications (next_at) WHERE status = 'pending';
    """,
    # 14: the command history (genosd.app.command_history)
    """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        command TEXT NOT NULL,
        output TEXT NOT NULL,
        truncated INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        duration REAL NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        ref TEXT
    );
    CREATE INDEX commands_device ON commands (device, at);
    CREATE INDEX commands_at ON commands (at);
    """,
    # 15: discovery runs with their proposals, and when discovery last saw each device
    """
    CREATE TABLE discovery_runs (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        finished_at REAL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        stopped TEXT,
        summary TEXT NOT NULL,
        sightings TEXT NOT NULL,
        proposals TEXT NOT NULL
    );
    CREATE TABLE discovery_seen (
        device TEXT PRIMARY KEY,
        last_seen REAL,
        first_looked REAL NOT NULL
    );
    """,
    # 16: when each device's config was last read by a backup (health: backup freshness)
    """
    CREATE TABLE backup_state (
        device TEXT PRIMARY KEY,
        last_ok REAL,
        last_attempt REAL NOT NULL,
        last_error TEXT
    );
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the state database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(f"{path} was written by a newer genosd (schema {version})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with transaction(db):
            # executescript would commit on its own; run the statements inside our transaction
            for statement in _statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); inside an open transaction, join it instead.

    Joining lets a caller make several steps atomic, e.g. creating a key and auditing it.
    """
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    anchor_audit(db)


def audit_head_path(db: sqlite3.Connection) -> Path | None:
    """The file anchoring the audit log's newest entry, beside the database (None in memory)."""
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2]).with_name("audit.head") if row and row[2] else None


def read_audit_head(path: Path) -> tuple[int, str] | None:
    """(id, chain) of the newest entry the head file anchors, or None without one."""
    try:
        entry_id, chain = path.read_text().split()
        return int(entry_id), chain
    except (OSError, ValueError):
        return None


def anchor_audit(db: sqlite3.Connection) -> None:
    """Write the audit log's newest id and chain link to its head file when they moved.

    The head lives outside the table (and travels with `audit export`), so deleting the newest
    rows of the log, which the hash chain alone cannot show, shows as a head with no row.
    """
    path = audit_head_path(db)
    if path is None:
        return
    try:
        row = db.execute("SELECT id, chain FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # migrating: the table does not exist yet
        return
    if row is None or read_audit_head(path) == (row[0], row[1]):
        return
    # one partial file per thread: a process may write from two connections at once (the
    # daemon's database thread and a key created beside it)
    partial = path.with_name(f".audit.head.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(f"{row[0]} {row[1]}\n")
    partial.replace(path)


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def conditions(
    equal: dict[str, Any], column: str, since: float | None, until: float | None
) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their arguments): each given `equal` column equals its value, and
    `column` (a time) falls in [since, until)."""
    clauses: list[str] = []
    args: list[Any] = []
    for name, value in equal.items():
        if value is not None:
            clauses.append(f"{name} = ?")
            args.append(value)
    if since is not None:
        clauses.append(f"{column} >= ?")
        args.append(since)
    if until is not None:
        clauses.append(f"{column} < ?")
        args.append(until)
    return clauses, args


def state_db_path(state_dir: Path) -> Path:
    """Where the state database lives."""
    return state_dir / "genosd.sqlite3"


class StateDB:
    """The state database as the daemon uses it: every call on one worker thread."""

    def __init__(self, path: Path):
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genosd-statedb")
        self.connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open and migrate."""
        self.connection = await self._submit(connect, self.path)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(connection, *args) on the database thread."""
        assert self.connection is not None, "StateDB.open() first"
        return await self._submit(fn, self.connection, *args)

    async def _submit(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        """Close the connection and the thread."""
        if self.connection is not None:
            await self._submit(self.connection.close)
            self.connection = None
        self._executor.shutdown(wait=True)
