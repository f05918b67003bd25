"""One change at a time per device, across every process that shares the state directory.

A deploy or restore takes the device's row in `device_locks` inside a transaction; a second taker,
in this process or another (the daemon and a CLI), gets ConflictError naming the holder. A row
whose process is gone (a `kill -9`, a crash) is stale and is taken over.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from genosd.errors import ConflictError
from genosd.processes import pid_alive
from genosd.statedb import StateDB, transaction


def acquire(db: sqlite3.Connection, device: str, operation: str, holder: str) -> None:
    """Take the device for `operation`; ConflictError while someone else holds it."""
    host, pid = socket.gethostname(), os.getpid()
    with transaction(db):
        row = db.execute(
            "SELECT operation, holder, host, pid, acquired_at FROM device_locks WHERE device = ?",
            (device,),
        ).fetchone()
        if row is not None:
            held_op, held_by, held_host, held_pid, since = row
            # another host's process cannot be checked: its lock stands until it releases it
            if held_host != host or pid_alive(held_pid):
                age = time.time() - since
                raise ConflictError(
                    f"{device} is busy: {held_op} by {held_by} (pid {held_pid} on {held_host}, "
                    f"{age:.0f}s ago)"
                )
        db.execute(
            "INSERT OR REPLACE INTO device_locks VALUES (?, ?, ?, ?, ?, ?)",
            (device, operation, holder, host, pid, time.time()),
        )


def release(db: sqlite3.Connection, device: str) -> None:
    """Give the device back (only this process's own lock)."""
    with transaction(db):
        db.execute(
            "DELETE FROM device_locks WHERE device = ? AND host = ? AND pid = ?",
            (device, socket.gethostname(), os.getpid()),
        )


def held(db: sqlite3.Connection) -> dict[str, str]:
    """Devices locked by live processes, with what is being done to them and by whom."""
    host = socket.gethostname()
    rows = db.execute("SELECT device, operation, holder, host, pid FROM device_locks").fetchall()
    return {
        device: f"{operation} by {holder}"
        for device, operation, holder, where, pid in rows
        if where != host or pid_alive(pid)
    }


@asynccontextmanager
async def device_lock(db: StateDB, device: str, operation: str, holder: str) -> AsyncIterator[None]:
    """Hold the device for the body of the `async with`."""
    await db.run(acquire, device, operation, holder)
    try:
        yield
    finally:
        await db.run(release, device)
