"""Sent commands into the state database, each device's secrets masked on the way."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from genosd.app.lifecycle import Lifecycle
from genosd.inventory import Device
from genosd.ssh.journal import Sent
from genosd.statedb import transaction


def rows(lifecycle: Lifecycle, devices: Mapping[str, Device], sent: list[Sent]) -> list[tuple]:
    """The rows to insert: command, output and error masked for their device."""
    found = []
    for one in sent:
        device = devices.get(one.device)

        def masked(text: str | None, device: Device | None = device) -> str | None:
            if text is None or device is None:
                return text
            return lifecycle.masked_text(device, text)

        found.append(
            (
                one.at,
                one.device,
                one.kind,
                masked(one.command) or "",
                masked(one.output) or "",
                int(one.truncated),
                int(one.ok),
                masked(one.error),
                one.duration,
                one.actor,
                one.reason,
                one.ref,
            )
        )
    return found


def insert(db: sqlite3.Connection, found: list[tuple[Any, ...]]) -> None:
    """Store rows made by `rows`."""
    with transaction(db):
        db.executemany(
            "INSERT INTO commands (at, device, kind, command, output, truncated, ok, error, "
            "duration, actor, reason, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            found,
        )
