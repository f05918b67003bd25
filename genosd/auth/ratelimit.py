"""Token buckets: a steady rate with a burst allowance, per caller (an API key, a client address).

The number of callers remembered is bounded (least recently seen forgotten first), so a flood from
many addresses cannot grow memory without end.
"""

from __future__ import annotations

import time
from collections import OrderedDict
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
    max_callers: int = 100_000
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)

    def _bucket(self, caller: str, now: float) -> _Bucket:
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
        rate = self.per_minute / 60.0
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        return bucket

    def check(self, caller: str, now: float | None = None) -> None:
        """Take one token for `caller`; RateLimited when none is left."""
        bucket = self._bucket(caller, time.monotonic() if now is None else now)
        if bucket.tokens < 1.0:
            raise RateLimited(
                f"rate limit of {self.per_minute:g} requests/minute exceeded",
                retry_after=(1.0 - bucket.tokens) / (self.per_minute / 60.0),
            )
        bucket.tokens -= 1.0

    def exhausted(self, caller: str, now: float | None = None) -> float | None:
        """Seconds until `caller` has a token again, or None when it has one (nothing taken)."""
        bucket = self._bucket(caller, time.monotonic() if now is None else now)
        if bucket.tokens >= 1.0:
            return None
        return (1.0 - bucket.tokens) / (self.per_minute / 60.0)

    def spend(self, caller: str, now: float | None = None) -> None:
        """Take a token if there is one (counting failures, which never raise)."""
        bucket = self._bucket(caller, time.monotonic() if now is None else now)
        bucket.tokens = max(0.0, bucket.tokens - 1.0)
