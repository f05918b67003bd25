"""The local metrics store under the state dir: recent points for the API, and the spool.

Every point is committed to SQLite (WAL) before anything else happens to it, so a `kill -9` loses
nothing that `append()` returned for. Points stay `pending` until a sink acknowledges them, and are
handed out in insertion order. The pending backlog is bounded by `max_bytes`: beyond it the oldest
pending points are dropped, counted and logged. Forwarded points stay queryable for
`retention_hours`. All SQLite work runs on one dedicated thread that owns the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from genosd.metrics.lines import parse_line
from genosd.metrics.model import Point

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL,
    device TEXT NOT NULL,
    measurement TEXT NOT NULL,
    line TEXT NOT NULL,
    size INTEGER NOT NULL,
    pending INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS points_pending ON points (id) WHERE pending = 1;
CREATE INDEX IF NOT EXISTS points_time ON points (time_ns);
CREATE TABLE IF NOT EXISTS latest (
    device TEXT NOT NULL,
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (device, measurement, series)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _json_safe(value: object) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


@dataclass(frozen=True)
class PendingBatch:
    """Points waiting for a sink, oldest first, with their row ids."""

    ids: list[int]
    lines: list[str]

    @property
    def last_id(self) -> int:
        """The newest point's id."""
        return self.ids[-1]


class MetricsStore:
    """SQLite-backed store and spool; every method is a coroutine run on the store's own thread."""

    def __init__(self, path: Path, *, max_bytes: int, retention_hours: float, forwarding: bool):
        self.path = path
        self.max_bytes = max_bytes
        self.retention_ns = int(retention_hours * 3600 * 1e9)
        self.forwarding = forwarding
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genosd-store")
        self._db: sqlite3.Connection | None = None
        self.pending_bytes = 0
        self.pending_points = 0
        self.dropped_points = 0  # dropped by this process because the spool was full
        self.unwritable_points = 0  # points with no field line protocol can carry (NaN only)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        db.executescript(_SCHEMA)
        if not self.forwarding:
            db.execute("UPDATE points SET pending = 0 WHERE pending = 1")
        row = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM points WHERE pending = 1"
        ).fetchone()
        self.pending_points, self.pending_bytes = int(row[0]), int(row[1])
        self._db = db

    async def open(self) -> None:
        """Open (creating if needed) the database; pending points from a previous run are kept."""
        await self._run(self._open)
        if self.pending_points:
            log.info(
                "spool holds %d points from a previous run; they will be forwarded first",
                self.pending_points,
            )

    def set_limits(self, *, max_bytes: int, retention_hours: float) -> None:
        """New spool bound and retention (a reload); they apply from the next append and prune."""
        self.max_bytes = max_bytes
        self.retention_ns = int(retention_hours * 3600 * 1e9)

    def _stop_forwarding(self) -> None:
        assert self._db is not None
        self._db.execute("UPDATE points SET pending = 0 WHERE pending = 1")
        self.pending_points = self.pending_bytes = 0

    async def set_forwarding(self, forwarding: bool) -> None:
        """Start keeping points for a sink, or (no sink any more) stop and release the backlog."""
        if forwarding == self.forwarding:
            return
        self.forwarding = forwarding
        if not forwarding:
            await self._run(self._stop_forwarding)

    async def close(self) -> None:
        """Checkpoint and close."""

        def _close() -> None:
            if self._db is not None:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
                self._db = None

        await self._run(_close)
        self._executor.shutdown(wait=True)

    def _append(self, points: Sequence[Point]) -> int:
        assert self._db is not None
        pending = 1 if self.forwarding else 0
        rows = []
        latest = []
        added = 0
        for p in points:
            line = p.to_line()
            if line is None:  # no field a server can store (only NaN or infinities)
                self.unwritable_points += 1
                continue
            size = len(line) + 1
            added += size
            device = p.tags.get("device", "")
            rows.append((p.time_ns, device, p.measurement, line, size, pending))
            series = ",".join(f"{k}={v}" for k, v in sorted(p.tags.items()))
            fields = {k: v for k, v in p.fields.items() if _json_safe(v)}
            latest.append(
                (device, p.measurement, series, p.time_ns, json.dumps(p.tags), json.dumps(fields))
            )
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO points (time_ns, device, measurement, line, size, pending) VALUES (?,?,?,?,?,?)",
                rows,
            )
            db.executemany(
                "INSERT INTO latest VALUES (?,?,?,?,?,?) ON CONFLICT (device, measurement, series) "
                "DO UPDATE SET time_ns=excluded.time_ns, tags=excluded.tags, fields=excluded.fields "
                "WHERE excluded.time_ns >= latest.time_ns",
                latest,
            )
            dropped = freed = 0
            if self.forwarding and self.pending_bytes + added > self.max_bytes:
                dropped, freed = self._drop_oldest_locked(self.pending_bytes + added)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        # the in-memory totals follow the database only once the transaction is committed
        if self.forwarding:
            self.pending_points += len(rows) - dropped
            self.pending_bytes += added - freed
        self.dropped_points += dropped
        return dropped

    def _drop_oldest_locked(self, pending_bytes: int) -> tuple[int, int]:
        assert self._db is not None
        excess = pending_bytes - self.max_bytes
        freed = dropped = 0
        cursor = self._db.execute("SELECT id, size FROM points WHERE pending = 1 ORDER BY id")
        last_id = 0
        for row_id, size in cursor:
            if freed >= excess:
                break
            freed += size
            dropped += 1
            last_id = row_id
        self._db.execute("DELETE FROM points WHERE pending = 1 AND id <= ?", (last_id,))
        self._db.execute(
            "INSERT INTO counters VALUES ('dropped', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + ?",
            (dropped, dropped),
        )
        return dropped, freed

    async def append(self, points: Sequence[Point]) -> None:
        """Commit points to disk; when this returns they survive a crash of the daemon."""
        if not points:
            return
        dropped = await self._run(self._append, points)
        if dropped:
            log.warning(
                "spool over %d bytes: dropped the %d oldest unsent points", self.max_bytes, dropped
            )

    def _pending(self, limit: int) -> PendingBatch | None:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT id, line FROM points WHERE pending = 1 ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        if not rows:
            return None
        return PendingBatch(ids=[r[0] for r in rows], lines=[r[1] for r in rows])

    async def pending(self, limit: int) -> PendingBatch | None:
        """The oldest pending points, at most `limit`."""
        result: PendingBatch | None = await self._run(self._pending, limit)
        return result

    def _acknowledge(self, last_id: int) -> None:
        assert self._db is not None
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM points WHERE pending = 1 AND id <= ?",
            (last_id,),
        ).fetchone()
        db.execute("UPDATE points SET pending = 0 WHERE pending = 1 AND id <= ?", (last_id,))
        db.execute("COMMIT")
        self.pending_points -= int(row[0])
        self.pending_bytes -= int(row[1])

    async def acknowledge_upto(self, last_id: int) -> None:
        """Every pending point up to `last_id` is done (delivered or refused for good)."""
        await self._run(self._acknowledge, last_id)

    async def acknowledge(self, batch: PendingBatch) -> None:
        """Mark a batch as delivered."""
        await self._run(self._acknowledge, batch.last_id)

    def _prune(self) -> int:
        assert self._db is not None
        cutoff = time.time_ns() - self.retention_ns
        cur = self._db.execute("DELETE FROM points WHERE pending = 0 AND time_ns < ?", (cutoff,))
        self._db.execute("DELETE FROM latest WHERE time_ns < ?", (cutoff,))
        return cur.rowcount

    async def prune(self) -> int:
        """Delete delivered points older than the retention window."""
        removed: int = await self._run(self._prune)
        return removed

    def _latest(self, device: str) -> list[dict[str, Any]]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT measurement, time_ns, tags, fields FROM latest WHERE device = ? ORDER BY measurement, series",
            (device,),
        ).fetchall()
        return [
            {"measurement": m, "time_ns": t, "tags": json.loads(tags), "fields": json.loads(fields)}
            for m, t, tags, fields in rows
        ]

    async def latest(self, device: str) -> list[dict[str, Any]]:
        """The newest value of every series of one device."""
        result: list[dict[str, Any]] = await self._run(self._latest, device)
        return result

    def _points_since(
        self, device: str, measurement: str, since_ns: int, limit: int
    ) -> list[Point]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT line FROM points WHERE time_ns >= ? AND device = ? AND measurement = ?"
            " ORDER BY time_ns DESC LIMIT ?",
            (since_ns, device, measurement, limit),
        ).fetchall()
        points = []
        for (line,) in reversed(rows):
            with contextlib.suppress(ValueError):  # only genosd writes here: never expected
                points.append(parse_line(line))
        return points

    async def points_since(
        self, device: str, measurement: str, since_ns: int, limit: int = 200_000
    ) -> list[Point]:
        """One device's points of `measurement` since `since_ns` (the newest `limit`), oldest
        first, read back from the stored lines; retention_hours bounds how far back."""
        result: list[Point] = await self._run(
            self._points_since, device, measurement, since_ns, limit
        )
        return result

    def _dropped(self) -> int:
        assert self._db is not None
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    async def dropped_total(self) -> int:
        """Points dropped because the spool was full, over the store's lifetime."""
        result: int = await self._run(self._dropped)
        return result
