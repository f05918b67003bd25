"""A short-lived in-memory cache of verified API keys, so a request does not cost a database trip.

Entries live `ttl` seconds (default 2). Expiry is checked on every use; revocation through the API
clears the cache at once; a key revoked by the CLI (another process) stops working within `ttl`.
Only the SHA-256 digest of a secret is kept in memory, never the secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from genosd.auth.keys import ApiKey, digest


@dataclass
class KeyCache:
    """digest -> (key, verified at); and the prefixes of the keys that exist."""

    ttl: float = 2.0
    max_entries: int = 10_000
    prefixes_ttl: float = 10.0
    _entries: dict[str, tuple[ApiKey, float]] = field(default_factory=dict)
    prefixes: set[str] = field(default_factory=set)
    prefixes_at: float = float("-inf")  # monotonic time `prefixes` was read

    def prefixes_stale(self, now: float | None = None) -> bool:
        """Whether the prefix set should be read again."""
        now = time.monotonic() if now is None else now
        return now - self.prefixes_at > self.prefixes_ttl

    def get(self, secret: str, now: float | None = None) -> ApiKey | None:
        """The key verified for this secret within `ttl`, if still active."""
        now = time.monotonic() if now is None else now
        entry = self._entries.get(digest(secret))
        if entry is None:
            return None
        key, verified_at = entry
        if now - verified_at > self.ttl or not key.active:
            return None
        return key

    def put(self, secret: str, key: ApiKey, now: float | None = None) -> None:
        """Remember a successful verification."""
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # bounded; re-verification is cheap
        self._entries[digest(secret)] = (key, time.monotonic() if now is None else now)

    def clear(self) -> None:
        """Forget everything (after a creation or revocation)."""
        self._entries.clear()
        self.prefixes_at = float("-inf")
