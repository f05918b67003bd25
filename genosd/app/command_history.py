"""The command history: every command genosd sent to a device, who asked and why, its output.

Device work runs inside `recorded(core, actor, reason, ref)`; the SSH layer notes each command in
the core's journal (genosd.ssh.journal) and `AppCore.flush_commands` moves them into the state database with the
device's secrets masked (its config secrets and its own credentials), never the raw output. The
daemon flushes every second and prunes what is older than `ssh.command_history_days`; a CLI
command flushes when it closes. Searchable by device, time, reason and text (API, CLI).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from genosd.app.core import AppCore
from genosd.ssh.journal import recording
from genosd.statedb import conditions, transaction

_NAMES = [
    "id",
    "at",
    "device",
    "kind",
    "command",
    "output",
    "truncated",
    "ok",
    "error",
    "duration",
    "actor",
    "reason",
    "ref",
]
_COLUMNS = ", ".join(_NAMES)


@contextlib.contextmanager
def recorded(core: AppCore, actor: str, reason: str, ref: str | None = None) -> Iterator[None]:
    """Note the commands sent inside the block as `actor`'s, for `reason` (an outer recording
    holds: a playbook's backup step is the playbook's)."""
    with recording(core.journal, actor, reason, ref):
        yield


@dataclass(frozen=True)
class CommandQuery:
    """What to look for: all given conditions hold."""

    device: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None  # in the command, its output or its error (ASCII case ignored)
    reason: str | None = None
    actor: str | None = None
    limit: int = 100
    with_output: bool = True


def search(db: sqlite3.Connection, query: CommandQuery) -> list[dict[str, Any]]:
    """Sent commands matching `query`, newest first."""
    equal = {"device": query.device, "reason": query.reason, "actor": query.actor}
    where, args = conditions(equal, "at", query.since, query.until)
    if query.text:
        pattern = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern += "%"
        where.append(
            "(command LIKE ? ESCAPE '\\' OR output LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\')"
        )
        args += [pattern] * 3
    sql = f"SELECT {_COLUMNS} FROM commands"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY at DESC, id DESC LIMIT ?"
    args.append(query.limit)
    rows = []
    for row in db.execute(sql, args):
        item = dict(zip(_NAMES, row, strict=True))
        item["ok"], item["truncated"] = bool(item["ok"]), bool(item["truncated"])
        if not query.with_output:
            item.pop("output")
        rows.append(item)
    return rows


def prune(db: sqlite3.Connection, days: float, now: float | None = None) -> int:
    """Forget commands older than `days`; how many."""
    before = (time.time() if now is None else now) - days * 86400
    with transaction(db):
        return db.execute("DELETE FROM commands WHERE at < ?", (before,)).rowcount
