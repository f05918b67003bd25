"""What the receivers (traps, syslog) share against floods: per-source token buckets, a deep
socket buffer."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

MAX_SOURCES = 100_000  # beyond: forget them all (bounded memory under a spoofed-source flood)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class SourceBuckets:
    """`rate` messages per second from each source, bursts of `burst` times that."""

    def __init__(self, rate: float, burst: float = 5.0):
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, source: str, now: float) -> bool:
        """Take one token from `source`'s bucket; False when it has none left."""
        return self.take(source, 1, now) == 1

    def take(self, source: str, wanted: int, now: float) -> int:
        """Take up to `wanted` tokens from `source`'s bucket at once; how many it had."""
        bucket = self._buckets.get(source)
        capacity = self.rate * self.burst
        if bucket is None:
            if len(self._buckets) >= MAX_SOURCES:
                self._buckets.clear()
            bucket = self._buckets[source] = _Bucket(capacity, now)
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        granted = min(wanted, int(bucket.tokens))
        bucket.tokens -= granted
        return granted


def enlarge_receive_buffer(sock: Any, size: int = 8 << 20) -> None:
    """A large socket buffer: a burst waits in the kernel instead of being lost there (beyond
    net.core.rmem_max only with CAP_NET_ADMIN, which SO_RCVBUFFORCE needs)."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            return
        except OSError:
            continue
