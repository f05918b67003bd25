"""Conversations, their turns and the agents, in the plugin's own SQLite file.

A session belongs to the key that started it. Each turn is written in one transaction: the user's
message, the tool calls and results, the answer, and the turn's numbers (latency, tokens, tools,
how it stopped) that the analytics read. Text is stored as redacted. Deleting a session deletes its
messages; its turns' numbers stay for the analytics, detached from it and without notes.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genosd.plugin import NotFoundError, SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    agent TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    summary_upto INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions (owner, updated_at);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session, id);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    session TEXT,
    owner TEXT NOT NULL,
    agent TEXT,
    at REAL NOT NULL,
    latency REAL NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    model TEXT NOT NULL,
    tools TEXT NOT NULL DEFAULT '[]',
    stopped TEXT,
    error TEXT,
    rating INTEGER,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS turns_at ON turns (at);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    shipped INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


@dataclass
class SessionRow:
    """A conversation's header."""

    id: str
    owner: str
    title: str
    agent: str | None
    created_at: float
    updated_at: float
    summary: str = ""
    summary_upto: int = 0
    turns: int = 0


@dataclass
class MessageRow:
    """One stored message (user, assistant, tool), in order."""

    id: int
    turn: int
    role: str
    content: str
    extra: dict[str, Any]
    at: float

    def as_model_message(self) -> dict[str, Any]:
        """The message as the LLM layer takes it."""
        return {"role": self.role, "content": self.content, **self.extra}


@dataclass
class TurnRecord:
    """What one answer cost and how it went, for the analytics."""

    latency: float
    tokens_in: int
    tokens_out: int
    model: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    error: str | None = None


_SESSION_COLUMNS = (
    "s.id, s.owner, s.title, s.agent, s.created_at, s.updated_at, s.summary, s.summary_upto,"
    " (SELECT COUNT(*) FROM turns t WHERE t.session = s.id)"
)


class ChatStore(SqliteFile):
    """Sessions, messages, turns and agents."""

    def __init__(self, path: Path):
        super().__init__(path, SCHEMA)
        self.db.execute("PRAGMA foreign_keys=ON")

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, owner: str, title: str, agent: str | None) -> SessionRow:
        """A new, empty conversation."""
        now = time.time()
        row = SessionRow(secrets.token_hex(8), owner, title, agent, now, now)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions (id, owner, title, agent, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, owner, title, agent, now, now),
            )
        return row

    def session(self, session_id: str, owner: str | None = None) -> SessionRow:
        """One conversation (of `owner` when given); NotFoundError otherwise."""
        rows = self.rows(f"SELECT {_SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", (session_id,))
        if not rows or (owner is not None and rows[0][1] != owner):
            raise NotFoundError(f"no conversation {session_id!r}")
        return SessionRow(*rows[0])

    def sessions(self, owner: str | None, limit: int = 100) -> list[SessionRow]:
        """Conversations (of `owner`, or everyone's), the most recently used first."""
        where, args = ("WHERE s.owner = ?", [owner]) if owner is not None else ("", [])
        rows = self.rows(
            f"SELECT {_SESSION_COLUMNS} FROM sessions s {where} ORDER BY s.updated_at DESC LIMIT ?",
            [*args, limit],
        )
        return [SessionRow(*row) for row in rows]

    def rename(self, session_id: str, title: str) -> None:
        """Give a conversation a title."""
        with self.transaction() as db:
            db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))

    def delete(self, session_id: str) -> None:
        """Forget a conversation's messages (its turns' numbers stay, without notes)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE turns SET session = NULL, note = '' WHERE session = ?", (session_id,)
            )
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def messages(self, session_id: str, after: int = 0) -> list[MessageRow]:
        """A conversation's messages after message id `after`, in order."""
        rows = self.rows(
            "SELECT id, turn, role, content, extra, at FROM messages"
            " WHERE session = ? AND id > ? ORDER BY id",
            (session_id, after),
        )
        return [MessageRow(i, t, r, c, json.loads(e), a) for i, t, r, c, e, a in rows]

    def summarised(self, session_id: str, summary: str, upto: int) -> None:
        """Older messages (up to id `upto`) are now sent as `summary`."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sessions SET summary = ?, summary_upto = ? WHERE id = ?",
                (summary, upto, session_id),
            )

    def add_turn(
        self,
        session: SessionRow,
        agent: str | None,
        messages: list[dict[str, Any]],
        record: TurnRecord,
    ) -> int:
        """Store one exchange (the user's message first) and its numbers; the turn's id."""
        now = time.time()
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO turns (session, owner, agent, at, latency, tokens_in, tokens_out,"
                " model, tools, stopped, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.id,
                    session.owner,
                    agent,
                    now,
                    record.latency,
                    record.tokens_in,
                    record.tokens_out,
                    record.model,
                    json.dumps(record.tools),
                    record.stopped,
                    record.error,
                ),
            )
            turn = int(cursor.lastrowid or 0)
            for message in messages:
                extra = {k: v for k, v in message.items() if k not in ("role", "content")}
                db.execute(
                    "INSERT INTO messages (session, turn, role, content, extra, at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        session.id,
                        turn,
                        message["role"],
                        message.get("content") or "",
                        json.dumps(extra, default=str),
                        now,
                    ),
                )
            db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session.id))
        return turn

    def rate(self, turn: int, owner: str, rating: int, note: str) -> None:
        """Feedback on an answer (+1 or -1, and why), by the conversation's owner."""
        with self.transaction() as db:
            found = db.execute(
                "UPDATE turns SET rating = ?, note = ? WHERE id = ? AND owner = ?",
                (rating, note, turn, owner),
            ).rowcount
        if not found:
            raise NotFoundError(f"no answer {turn} of yours")

    def prune(self, idle_before: float | None, per_owner: int) -> int:
        """Delete conversations idle since `idle_before`, and each owner's beyond the newest
        `per_owner`; how many."""
        doomed = set()
        if idle_before is not None:
            doomed |= {
                r[0]
                for r in self.rows("SELECT id FROM sessions WHERE updated_at < ?", (idle_before,))
            }
        doomed |= {
            r[0]
            for r in self.rows(
                "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY owner"
                " ORDER BY updated_at DESC) AS n FROM sessions) WHERE n > ?",
                (per_owner,),
            )
        }
        for session_id in doomed:
            self.delete(session_id)
        return len(doomed)

    # -- analytics --------------------------------------------------------------------------

    def turn_rows(self, since: float, owner: str | None) -> list[tuple[Any, ...]]:
        """(session, agent, latency, tokens in, tokens out, model, tools, stopped, error,
        rating) of each turn since `since` (of `owner` when given)."""
        where, args = "at >= ?", list[Any]([since])
        if owner is not None:
            where, args = where + " AND owner = ?", [*args, owner]
        return self.rows(
            "SELECT session, agent, latency, tokens_in, tokens_out, model, tools, stopped, error,"
            f" rating FROM turns WHERE {where}",
            args,
        )

    def feedback_notes(self, since: float, owner: str | None, limit: int = 20) -> list[tuple]:
        """The newest notes left with a rating: (turn, rating, note, at)."""
        where, args = "at >= ? AND rating IS NOT NULL AND note != ''", list[Any]([since])
        if owner is not None:
            where, args = where + " AND owner = ?", [*args, owner]
        return self.rows(
            f"SELECT id, rating, note, at FROM turns WHERE {where} ORDER BY at DESC LIMIT ?",
            [*args, limit],
        )

    # -- agents -----------------------------------------------------------------------------

    def agent_bodies(self) -> dict[str, tuple[dict[str, Any], bool]]:
        """Every stored agent: name -> (its definition, whether genosd shipped it)."""
        return {
            name: (json.loads(body), bool(shipped))
            for name, body, shipped in self.rows("SELECT name, body, shipped FROM agents")
        }

    def save_agent(self, name: str, body: dict[str, Any], author: str, shipped: bool) -> None:
        """Store (or replace) an agent's definition."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO agents (name, body, shipped, author, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body,"
                " shipped = excluded.shipped, author = excluded.author,"
                " updated_at = excluded.updated_at",
                (name, json.dumps(body), int(shipped), author, time.time()),
            )

    def seed_agent(self, name: str, body: dict[str, Any]) -> None:
        """Store a shipped agent unless one of that name exists (an edit is never undone)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO agents (name, body, shipped, author, updated_at)"
                " VALUES (?, ?, 1, 'genosd', ?)",
                (name, json.dumps(body), time.time()),
            )

    def delete_agent(self, name: str) -> bool:
        """Forget an agent; whether it existed."""
        with self.transaction() as db:
            return bool(db.execute("DELETE FROM agents WHERE name = ?", (name,)).rowcount)
