"""Per-key token buckets: a steady rate with a burst allowance, in memory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from genosd.errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """`per_minute` requests a minute per caller, with bursts up to `burst`."""

    per_minute: float
    burst: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check(self, caller: str, now: float | None = None) -> None:
        """Take one token for `caller`; RateLimited when none is left."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited(
                f"rate limit of {self.per_minute:g} requests/minute exceeded",
                retry_after=(1.0 - bucket.tokens) / rate,
            )
        bucket.tokens -= 1.0
