"""Incident notifications: queued in the state database, sent by a job, retried with back-off.

Every target (a webhook, a ChatOps channel) gets a row per incident change it wants, so a
notification survives a restart and a receiver that is down gets it when it is back. Webhooks
get JSON signed with HMAC-SHA256 over `timestamp.body` (headers `X-Genosd-Timestamp` and
`X-Genosd-Signature: sha256=<hex>`), so a receiver can refuse forgeries and replays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from genosd import __version__
from genosd.alerts.rules import SEVERITIES
from genosd.app.core import AppCore
from genosd.settings_alerting import WebhookSettings
from genosd.statedb import transaction

log = logging.getLogger(__name__)
BACKOFF_FIRST, BACKOFF_MAX = 5.0, 3600.0
Sender = Callable[[dict[str, Any]], Awaitable[None]]  # raises on failure


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `X-Genosd-Signature` value for a body sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def wants(webhook: WebhookSettings, event: str, severity: str) -> bool:
    """Whether a webhook asked for this change of an incident this bad."""
    return event in webhook.events and SEVERITIES.index(severity) <= SEVERITIES.index(
        webhook.min_severity
    )


# --- the queue -------------------------------------------------------------------------------


def enqueue(
    db: sqlite3.Connection, targets: list[str], incident: int, event: str, payload: dict[str, Any]
) -> None:
    """One pending notification per target."""
    now = time.time()
    body = json.dumps(payload, default=str)
    with transaction(db):
        db.executemany(
            "INSERT INTO notifications (target, incident, event, payload, status, next_at,"
            " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            [(target, incident, event, body, now, now) for target in targets],
        )


def due(
    db: sqlite3.Connection, now: float, limit: int = 100
) -> list[tuple[int, str, int, dict[str, Any]]]:
    """Pending notifications whose time has come: (id, target, attempts, payload)."""
    rows = db.execute(
        "SELECT id, target, attempts, payload FROM notifications WHERE status = 'pending'"
        " AND next_at <= ? ORDER BY id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [(row[0], row[1], row[2], json.loads(row[3])) for row in rows]


def settle(db: sqlite3.Connection, row_id: int, error: str | None, retry_at: float | None) -> None:
    """Record an attempt: sent, to be retried at `retry_at`, or given up."""
    with transaction(db):
        if error is None:
            db.execute(
                "UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
                " last_error = NULL WHERE id = ?",
                (time.time(), row_id),
            )
        elif retry_at is not None:
            db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_at = ?, last_error = ?"
                " WHERE id = ?",
                (retry_at, error, row_id),
            )
        else:
            db.execute(
                "UPDATE notifications SET status = 'failed', attempts = attempts + 1,"
                " last_error = ? WHERE id = ?",
                (error, row_id),
            )


def list_notifications(
    db: sqlite3.Connection, incident: int | None, limit: int = 100
) -> list[dict[str, Any]]:
    """Notifications, newest first (of one incident)."""
    where, params = ("WHERE incident = ?", [incident]) if incident is not None else ("", [])
    rows = db.execute(
        "SELECT id, target, incident, event, status, attempts, last_error, created_at, sent_at"
        f" FROM notifications {where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    names = ["id", "target", "incident", "event", "status", "attempts", "last_error",
             "created_at", "sent_at"]  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


# --- sending ---------------------------------------------------------------------------------


class Notifier:
    """Sends what is due to the configured webhooks and the senders plugins register."""

    def __init__(self, core: AppCore):
        self.core = core
        self.senders: dict[str, Sender] = {}  # "chatops:slack" → a plugin's sender
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    def targets(self, event: str, severity: str) -> list[str]:
        """The targets that want this incident change."""
        found = [
            f"webhook:{name}"
            for name, hook in self.core.settings.alerts.webhooks.items()
            if wants(hook, event, severity)
        ]
        return found + sorted(self.senders)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self) -> int:
        """Send every due notification once; how many were sent."""
        async with self._lock:  # the job and a nudge after an incident change never overlap
            rows = await self.core.db.run(due, time.time())
            sent = 0
            for row_id, target, attempts, payload in rows:
                error = await self._send(target, payload)
                retry_at = None
                if error is not None:
                    limit = self._attempts(target)
                    if attempts + 1 < limit:
                        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempts)
                        retry_at = time.time() + delay
                    log.warning(
                        "notification %d to %s failed (attempt %d/%d): %s",
                        row_id, target, attempts + 1, limit, error,
                    )  # fmt: skip
                else:
                    sent += 1
                await self.core.db.run(settle, row_id, error, retry_at)
            return sent

    def _attempts(self, target: str) -> int:
        kind, _, name = target.partition(":")
        hook = self.core.settings.alerts.webhooks.get(name) if kind == "webhook" else None
        return hook.max_attempts if hook is not None else 8

    async def _send(self, target: str, payload: dict[str, Any]) -> str | None:
        kind, _, name = target.partition(":")
        try:
            if kind == "webhook":
                hook = self.core.settings.alerts.webhooks.get(name)
                if hook is None:
                    return f"no webhook {name!r} in the settings any more"
                await self._post(hook, payload)
            else:
                sender = self.senders.get(target)
                if sender is None:
                    return f"no sender for {target!r} (plugin not loaded)"
                await sender(payload)
        except Exception as exc:  # a target's failure is data: retried, never fatal
            return f"{type(exc).__name__}: {exc}"[:500]
        return None

    async def _post(self, hook: WebhookSettings, payload: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = json.dumps(payload, default=str).encode()
        stamp = str(int(time.time()))
        headers = {
            **hook.headers,
            "Content-Type": "application/json",
            "User-Agent": f"genosd/{__version__}",
            "X-Genosd-Timestamp": stamp,
            "X-Genosd-Event": str(payload.get("event", "")),
        }
        if hook.secret is not None:
            secret = hook.secret.get_secret_value().encode()
            headers["X-Genosd-Signature"] = signature(secret, stamp, body)
        timeout = aiohttp.ClientTimeout(total=hook.timeout)
        async with self._session.post(hook.url, data=body, headers=headers, timeout=timeout) as r:
            if r.status >= 300:
                text = (await r.text())[:200]
                raise RuntimeError(f"HTTP {r.status}: {text}")
